#include "server/logging/logger.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace lg = corvus::log;

namespace {
// Captures log lines for the duration of a test; restores stderr and the level.
struct Capture {
  std::mutex mu;
  std::vector<std::string> lines;
  lg::Level saved = lg::level();
  Capture() {
    lg::set_sink([this](std::string_view line) {
      std::lock_guard lock(mu);
      lines.emplace_back(line);
    });
  }
  ~Capture() {
    lg::set_sink(nullptr);
    lg::set_level(saved);
  }
};
// True if `line` is "<YYYY-MM-DDTHH:MM:SS.mmmZ> " followed by exactly `rest`.
// (No std::regex: GCC 12 warns inside it under -O2 with sanitizers.)
bool has_timestamp_then(std::string_view line, std::string_view rest) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() != kShape.size() + rest.size()) return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    char want = kShape[i];
    char c = line[i];
    if (want == 'd' ? !(c >= '0' && c <= '9') : c != want) return false;
  }
  return line.substr(kShape.size()) == rest;
}
}  // namespace

TEST_CASE("Logger: line format with timestamp, padded level and key=value pairs") {
  Capture cap;
  lg::set_level(lg::Level::Info);
  lg::info("database opened").kv("db", "shop").kv("docs", 42).kv("path", "/var/my data").kv("ok", true);
  REQUIRE(cap.lines.size() == 1);
  CHECK(has_timestamp_then(cap.lines[0], "INFO  database opened db=shop docs=42 path=\"/var/my data\" ok=true\n"));
}

TEST_CASE("Logger: levels filter and tags") {
  Capture cap;
  lg::set_level(lg::Level::Warn);
  lg::debug("hidden").kv("req", "abc");
  lg::info("hidden too");
  lg::warn("shown");
  lg::error("also").kv("quote", "a\"b");
  REQUIRE(cap.lines.size() == 2);
  CHECK(cap.lines[0].find(" WARN  shown\n") != std::string::npos);
  CHECK(cap.lines[1].find(" ERROR also quote=\"a\\\"b\"\n") != std::string::npos);
  CHECK(lg::enabled(lg::Level::Error));
  CHECK_FALSE(lg::enabled(lg::Level::Info));
}

TEST_CASE("Logger: parse_level and timestamps") {
  CHECK(lg::parse_level("trace") == lg::Level::Trace);
  CHECK(lg::parse_level("DEBUG") == lg::Level::Debug);
  CHECK(lg::parse_level("info") == lg::Level::Info);
  CHECK(lg::parse_level("warning") == lg::Level::Warn);
  CHECK(lg::parse_level("error") == lg::Level::Error);
  CHECK_FALSE(lg::parse_level("loud").has_value());
  CHECK(lg::format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(lg::format_timestamp(1795255872123) == "2026-11-21T10:11:12.123Z");
}

TEST_CASE("Logger: concurrent lines never interleave") {
  Capture cap;
  lg::set_level(lg::Level::Info);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) lg::info("tick").kv("thread", t).kv("i", i);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(cap.lines.size() == 800);
  size_t good = 0;
  for (const auto& l : cap.lines) {
    auto tail = std::string_view(l).substr(std::min(l.size(), size_t{25}));
    good += (tail.rfind("INFO  tick thread=", 0) == 0 && l.back() == '\n' &&
             std::count(l.begin(), l.end(), '\n') == 1 && has_timestamp_then(l, tail));
  }
  CHECK(good == 800);
}
