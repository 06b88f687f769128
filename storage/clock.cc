#include "storage/clock.h"

#include <cstdio>
#include <ctime>

namespace corvus::storage {

std::string format_iso8601(int64_t unix_micros) {
  int64_t secs = unix_micros / 1'000'000;
  int64_t micros = unix_micros % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // roomy: the compiler cannot bound the int fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros * 10));
  return buf;
}

std::optional<int64_t> parse_iso8601(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t micros = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < copy.size() && copy[i] == '.') {
    int64_t scale = 1'000'000;
    for (++i; i < copy.size() && copy[i] >= '0' && copy[i] <= '9'; ++i) {
      scale /= 10;
      micros += (copy[i] - '0') * scale;
    }
  }
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000 + micros;
}

}  // namespace corvus::storage
