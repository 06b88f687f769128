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
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) {
    char buf[96];  // roomy: the compiler cannot bound the int fields
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", year, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros * 10));
    return buf;
  }
  // Digits written by hand: every stored version gets one of these, and
  // snprintf was 3% of a bulk insert's CPU.
  std::string out = "0000-00-00T00:00:00.0000000Z";
  auto put = [&out](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, tm.tm_mon + 1, 2);
  put(8, tm.tm_mday, 2);
  put(11, tm.tm_hour, 2);
  put(14, tm.tm_min, 2);
  put(17, tm.tm_sec, 2);
  put(20, micros * 10, 7);
  return out;
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
