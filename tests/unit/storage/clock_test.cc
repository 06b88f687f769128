// format_iso8601 / parse_iso8601: RavenDB's @last-modified text (seven
// fractional digits, UTC), written by hand for speed and checked here against
// the calendar.
#include <doctest/doctest.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "storage/clock.h"

using corvus::storage::format_iso8601;
using corvus::storage::parse_iso8601;

TEST_CASE("format_iso8601 writes RavenDB's @last-modified text") {
  CHECK(format_iso8601(0) == "1970-01-01T00:00:00.0000000Z");
  CHECK(format_iso8601(1'600'000'000'123'456) == "2020-09-13T12:26:40.1234560Z");
  CHECK(format_iso8601(951'782'400'000'001) == "2000-02-29T00:00:00.0000010Z");  // a leap day
  CHECK(format_iso8601(-1) == "1969-12-31T23:59:59.9999990Z");
  CHECK(format_iso8601(253'402'300'799'999'999) == "9999-12-31T23:59:59.9999990Z");
}

TEST_CASE("format_iso8601 agrees with gmtime from 1900 to 2400") {
  // Steps of about 37 hours and 17 seconds, so every month, leap day and
  // century rule comes by.
  const int64_t step = (37 * 3600 + 17) * int64_t{1'000'000} + 123'457;
  int checked = 0;
  for (int64_t t = -2'208'988'800'000'000; t < 13'569'465'600'000'000; t += step, ++checked) {
    const int64_t secs = t >= 0 ? t / 1'000'000 : (t - 999'999) / 1'000'000;
    const int64_t micros = t - secs * 1'000'000;
    const std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char want[64];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros * 10));
    if (format_iso8601(t) != want) {
      CHECK(format_iso8601(t) == std::string(want));
      break;
    }
  }
  CHECK(checked > 90'000);
}

TEST_CASE("parse_iso8601 reads what format_iso8601 writes") {
  for (int64_t t : {int64_t{0}, int64_t{1'600'000'000'123'456}, int64_t{1'764'000'000'000'007}}) {
    CHECK(parse_iso8601(format_iso8601(t)) == t);
  }
  CHECK_FALSE(parse_iso8601("yesterday").has_value());
}
