// format_iso8601 / parse_iso8601: RavenDB's @last-modified text (seven
// fractional digits, UTC), written by hand for speed and checked here against
// the calendar.
#include <doctest/doctest.h>

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

TEST_CASE("parse_iso8601 reads what format_iso8601 writes") {
  for (int64_t t : {int64_t{0}, int64_t{1'600'000'000'123'456}, int64_t{1'764'000'000'000'007}}) {
    CHECK(parse_iso8601(format_iso8601(t)) == t);
  }
  CHECK_FALSE(parse_iso8601("yesterday").has_value());
}
