#include "server/logging/logger.h"

#include <doctest/doctest.h>

#include <mutex>
#include <regex>
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
}  // namespace

TEST_CASE("Logger: line format with timestamp, padded level and key=value pairs") {
  Capture cap;
  lg::set_level(lg::Level::Info);
  lg::info("database opened").kv("db", "shop").kv("docs", 42).kv("path", "/var/my data").kv("ok", true);
  REQUIRE(cap.lines.size() == 1);
  std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO  database opened db=shop docs=42 )"
                R"(path="/var/my data" ok=true\n$)");
  CHECK(std::regex_match(cap.lines[0], re));
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
  std::regex re(R"(^\S+ INFO  tick thread=\d i=\d+\n$)");
  for (const auto& l : cap.lines) CHECK(std::regex_match(l, re));
}
