#include "tests/support/single_node_db.h"

#include <doctest/doctest.h>

#include <utility>

namespace corvus::testing {

SingleNodeDb::SingleNodeDb(std::vector<std::string> extra_args)
    : data_dir(dir.sub("node")),
      port(free_port()),
      server(data_dir, port, std::move(extra_args)),
      client("127.0.0.1", port) {
  REQUIRE_MESSAGE(server.start(), server.log());
  REQUIRE(client.request("PUT", "/admin/databases?name=db", R"({"DatabaseName":"db"})").status == 201);
}

}  // namespace corvus::testing
