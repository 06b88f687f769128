#pragma once
// Clock: where storage reads wall time (last-modified stamps, HiLo range times).
// Injected so tests can pin time. SystemClock is thread-safe.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <string>

namespace corvus::storage {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t now_micros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_micros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// RavenDB's date format: "2024-05-01T10:11:12.1234567Z" (7 fractional digits).
std::string format_iso8601(int64_t unix_micros);
// Parses that format (fraction optional, up to 7 digits); nullopt if malformed.
std::optional<int64_t> parse_iso8601(std::string_view text);

}  // namespace corvus::storage
