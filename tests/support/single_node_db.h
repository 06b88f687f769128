#pragma once
// SingleNodeDb: the setup most single-process tests start from: one corvusd
// on a free port with its data in a fresh TempDir, and database "db" created.
// Uses doctest assertions (REQUIRE when it does not come up), so construct it
// inside a test. Members are public: tests kill and restart `server`, read
// files under `data_dir` and talk through `client`.

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/corvusd_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace corvus::testing {

struct SingleNodeDb {
  // `extra_args` go to corvusd (e.g. {"--max-body-size", "4KB"}).
  explicit SingleNodeDb(std::vector<std::string> extra_args = {});

  // Destroyed in reverse order: the client, then the process, then its directory.
  TempDir dir;
  const std::string data_dir;
  const uint16_t port;
  CorvusdProcess server;
  HttpClient client;
};

}  // namespace corvus::testing
