#include "server/http/error_response.h"

#include <doctest/doctest.h>

using namespace corvus;
using namespace corvus::server::http;

TEST_CASE("ErrorResponse: body shape and JSON escaping") {
  Response r = error_response(400, "Raven.Client.Exceptions.BadRequestException", "bad \"id\"\n\x01\\",
                              "/databases/db/docs?id=a");
  CHECK(r.status == 400);
  CHECK(r.content_type == "application/json; charset=utf-8");
  CHECK(r.body ==
        R"({"Url":"/databases/db/docs?id=a","Type":"Raven.Client.Exceptions.BadRequestException",)"
        R"("Message":"bad \"id\"\n\u0001\\","Error":"bad \"id\"\n\u0001\\"})");
}

TEST_CASE("ErrorResponse: Status table") {
  struct Case {
    Status s;
    unsigned status;
    std::string type;
  };
  std::vector<Case> cases = {
      {Status::NotFound("doc"), 404, "Raven.Client.Exceptions.Documents.DocumentDoesNotExistException"},
      {Status::ConcurrencyConflict("cv"), 409, "Raven.Client.Exceptions.ConcurrencyException"},
      {Status::AlreadyExists("db"), 409, "Raven.Client.Exceptions.ConcurrencyException"},
      {Status::InvalidArgument("x"), 400, "Raven.Client.Exceptions.BadRequestException"},
      {Status::AccessDenied("x"), 403, "Raven.Client.Exceptions.Security.AuthorizationException"},
      {Status::Timeout("x"), 408, "System.TimeoutException"},
      {Status::NotLeader("B"), 503, "Raven.Client.Exceptions.Cluster.NoLeaderException"},
      {Status::Busy("x"), 503, "Raven.Client.Exceptions.Database.DatabaseConcurrentLoadTimeoutException"},
      {Status::ShuttingDown("x"), 503, "Raven.Client.Exceptions.Database.DatabaseDisabledException"},
      {Status::IOError("x"), 500, "System.Exception"},
      {Status::Corruption("x"), 500, "System.Exception"},
      {Status::Internal("x"), 500, "System.Exception"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.s.to_string());
    Response r = error_response(c.s, "/u");
    CHECK(r.status == c.status);
    CHECK(r.body.find("\"Type\":\"" + c.type + "\"") != std::string::npos);
    CHECK(r.body.rfind("{\"Url\":\"/u\",", 0) == 0);
  }
}

TEST_CASE("ErrorResponse: messages carry the leader hint and the code for 500s") {
  CHECK(error_response(Status::NotLeader("http://10.0.0.2:8080"), "/x").body.find("leader: http://10.0.0.2:8080") !=
        std::string::npos);
  CHECK(error_response(Status::IOError("disk full"), "/x").body.find("\"Message\":\"IOError: disk full\"") !=
        std::string::npos);
  CHECK(error_response(Status::ConcurrencyConflict("Optimistic concurrency violation"), "/x")
            .body.find("\"Message\":\"Optimistic concurrency violation\"") != std::string::npos);
}
