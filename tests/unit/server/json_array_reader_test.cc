// JsonArrayReader (the bulk insert body): elements handed over whole whatever
// the chunking, strings that hold brackets and escaped quotes, raw bytes after
// an element, and refusals that name the byte offset.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/handlers/json_array_reader.h"

using namespace corvus;
using corvus::server::handlers::JsonArrayReader;
using corvus::server::handlers::JsonArraySink;

namespace {

// Collects elements; an element {"raw":N} asks for N raw bytes after it.
struct Collect : JsonArraySink {
  std::vector<std::string> elements;
  std::vector<std::string> raws;
  std::string raw_now;
  Result<uint64_t> element(std::string_view json) override {
    elements.emplace_back(json);
    const auto at = json.find("\"raw\":");
    return at == std::string_view::npos ? uint64_t{0} : std::stoull(std::string(json.substr(at + 6)));
  }
  Status raw(std::string_view bytes, bool last) override {
    raw_now.append(bytes);
    if (last) {
      raws.push_back(raw_now);
      raw_now.clear();
    }
    return Status::Ok();
  }
};

// Feeds `body` in pieces of `piece` bytes.
Status feed_in_pieces(JsonArrayReader& r, Collect& sink, const std::string& body, size_t piece) {
  for (size_t at = 0; at < body.size(); at += piece) {
    if (Status s = r.feed(std::string_view(body).substr(at, piece), sink); !s.ok()) return s;
  }
  return r.finish();
}

}  // namespace

TEST_CASE("JsonArrayReader: elements whole, whatever the chunking") {
  std::string raw = "raw ]}{\" bytes";
  raw.push_back('\0');
  const std::string body = " [ {\"a\":\"x]}\\\"{\",\"b\":[1,{\"c\":2}]} ,\n{\"raw\":" + std::to_string(raw.size()) + "}" +
                           raw + ",{\"e\":\"\\\\\"} ] \n";
  // Every piece size: an element may begin at the end of a piece, end at the
  // start of one, or lie whole inside one (handed over without a copy).
  for (size_t piece = 1; piece <= body.size(); ++piece) {
    CAPTURE(piece);
    JsonArrayReader r(1024);
    Collect sink;
    REQUIRE(feed_in_pieces(r, sink, body, piece).ok());
    REQUIRE(sink.elements.size() == 3);
    CHECK(sink.elements[0] == "{\"a\":\"x]}\\\"{\",\"b\":[1,{\"c\":2}]}");
    CHECK(sink.elements[2] == "{\"e\":\"\\\\\"}");
    REQUIRE(sink.raws.size() == 1);
    CHECK(sink.raws[0] == raw);
    CHECK(r.closed());
    CHECK(r.offset() == body.size());
  }
}

TEST_CASE("JsonArrayReader: an empty array, and closed() before the body ends") {
  JsonArrayReader r(16);
  Collect sink;
  REQUIRE(r.feed("[", sink).ok());
  CHECK_FALSE(r.closed());
  REQUIRE(r.feed(" ]", sink).ok());
  CHECK(r.closed());
  CHECK(sink.elements.empty());
  CHECK(r.finish().ok());
}

TEST_CASE("JsonArrayReader: refusals name what is wrong and where") {
  struct Case {
    std::string body;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"{\"a\":1}", "byte 0: expected '['"},
           {"[1]", "byte 1: expected a command object, got '1'"},
           {"[{\"a\":1} {\"b\":2}]", "byte 9: expected ',' or ']' after a command"},
           {"[{\"a\":1}] x", "bytes after the end of the array"},
           {"[{\"a\":\"" + std::string(40, 'x') + "\"}]", "longer than 32 bytes"},
       }) {
    CAPTURE(c.body);
    JsonArrayReader r(32);
    Collect sink;
    Status s = feed_in_pieces(r, sink, c.body, 3);
    REQUIRE(s.is_invalid_argument());
    CHECK_MESSAGE(s.message().find(c.message) != std::string::npos, s.message());
  }
  for (const std::string& cut : {std::string("[{\"a\":1}"), std::string("[{\"a\":"), std::string("")}) {
    JsonArrayReader r(32);
    Collect sink;
    REQUIRE(r.feed(cut, sink).ok());
    Status s = r.finish();
    CHECK(s.is_invalid_argument());
    CHECK(s.message().find("ended") != std::string::npos);
  }
}
