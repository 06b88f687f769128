// parse_multipart_form: the form the clients send for batches with attachment
// streams, and the malformed bodies it must refuse with a clear message.

#include "server/handlers/multipart.h"

#include <doctest/doctest.h>

using corvus::server::handlers::parse_multipart_form;

TEST_CASE("multipart: parts, names, content types and binary bodies") {
  const std::string bin("a\r\n--\0b", 7);
  const std::string body =
      "preamble\r\n--BOUND\r\nContent-Disposition: form-data; name=\"main\"\r\nContent-Type: application/json\r\n\r\n"
      "{\"Commands\":[]}\r\n--BOUND\r\ncontent-disposition: form-data; name=attachment_0; filename=\"blob\"\r\n\r\n" +
      bin + "\r\n--BOUND\r\n\r\nno headers\r\n--BOUND--\r\n";
  auto parts = parse_multipart_form("multipart/form-data; boundary=\"BOUND\"", body);
  REQUIRE_MESSAGE(parts.ok(), parts.status().to_string());
  REQUIRE(parts->size() == 3);
  CHECK((*parts)[0].name == "main");
  CHECK((*parts)[0].content_type == "application/json");
  CHECK((*parts)[0].body == "{\"Commands\":[]}");
  CHECK((*parts)[1].name == "attachment_0");
  CHECK((*parts)[1].body == bin);
  CHECK((*parts)[2].name.empty());
  CHECK((*parts)[2].body == "no headers");
}

TEST_CASE("multipart: malformed bodies are refused with what is wrong") {
  auto msg = [](std::string_view ct, std::string_view body) {
    auto r = parse_multipart_form(ct, body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is_invalid_argument());
    return r.status().message();
  };
  CHECK(msg("multipart/form-data", "--x\r\n\r\n").find("no boundary") != std::string::npos);
  CHECK(msg("multipart/form-data; boundary=x", "nothing here").find("no part delimiter") != std::string::npos);
  CHECK(msg("multipart/form-data; boundary=x", "--x\r\nContent-Type: a").find("no end of headers") !=
        std::string::npos);
  CHECK(msg("multipart/form-data; boundary=x", "--x\r\nA: b\r\n\r\ncut off").find("not terminated") !=
        std::string::npos);
  CHECK(msg("multipart/form-data; boundary=x", "--xjunk").find("not followed by CRLF") != std::string::npos);
}
