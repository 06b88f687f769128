#include "storage/clock.h"

#include <cstdio>
#include <ctime>

namespace corvus::storage {

namespace {

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// The proleptic Gregorian date `days` after 1970-01-01, by the usual
// era-of-400-years arithmetic: gmtime_r takes the time-zone lock on every
// call, and every stored version formats one of these.
CivilDate civil_from_days(int64_t days) {
  days += 719468;  // from 0000-03-01, so that a leap day ends the year
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;                                                // [0, 146096]
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;  // [0, 399]
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);            // [0, 365]
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;                                     // [0, 11], March = 0
  const int day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  const int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

std::string format_iso8601(int64_t unix_micros) {
  int64_t secs = unix_micros / 1'000'000;
  int64_t micros = unix_micros % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  int64_t days = secs / 86'400;
  int64_t second_of_day = secs % 86'400;
  if (second_of_day < 0) {
    second_of_day += 86'400;
    days -= 1;
  }
  const CivilDate date = civil_from_days(days);
  if (date.year < 0 || date.year > 9999) {
    char buf[96];  // roomy: the compiler cannot bound the fields
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%07lldZ", static_cast<long long>(date.year),
                  date.month, date.day, static_cast<long long>(second_of_day / 3600),
                  static_cast<long long>(second_of_day / 60 % 60), static_cast<long long>(second_of_day % 60),
                  static_cast<long long>(micros * 10));
    return buf;
  }
  // Digits written by hand: snprintf was 3% of a bulk insert's CPU.
  std::string out = "0000-00-00T00:00:00.0000000Z";
  auto put = [&out](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, date.year, 4);
  put(5, date.month, 2);
  put(8, date.day, 2);
  put(11, second_of_day / 3600, 2);
  put(14, second_of_day / 60 % 60, 2);
  put(17, second_of_day % 60, 2);
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
