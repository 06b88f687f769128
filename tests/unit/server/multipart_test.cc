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

TEST_CASE("multipart: fed one byte at a time, delimiters split across chunks") {
  using corvus::server::handlers::MultipartParser;
  const std::string payload = std::string("x\r\n-") + std::string(3000, 'p') + "\r\n--BOUN";  // near-delimiters inside
  const std::string body = "--BOUND\r\nContent-Disposition: form-data; name=\"main\"\r\n\r\n{}\r\n--BOUND\r\n"
                           "Content-Disposition: form-data; name=\"attachment_0\"\r\n\r\n" +
                           payload + "\r\n--BOUND--";
  struct Collect final : MultipartParser::Events {
    std::vector<std::pair<std::string, std::string>> parts;
    size_t calls = 0;
    corvus::Status begin_part(const std::string& name, const std::string&) override {
      parts.emplace_back(name, "");
      return corvus::Status::Ok();
    }
    corvus::Status part_data(std::string_view b) override {
      ++calls;
      parts.back().second.append(b);
      return corvus::Status::Ok();
    }
    corvus::Status end_part() override { return corvus::Status::Ok(); }
  } events;
  MultipartParser parser("BOUND");
  for (char ch : body) REQUIRE(parser.feed(std::string_view(&ch, 1), events).ok());
  REQUIRE(parser.finish().ok());
  REQUIRE(events.parts.size() == 2);
  CHECK(events.parts[0].first == "main");
  CHECK(events.parts[0].second == "{}");
  CHECK(events.parts[1].first == "attachment_0");
  CHECK(events.parts[1].second == payload);
  CHECK(events.calls > 1);  // bytes handed on as they come, not at the end
}
