#include "server/metrics/registry.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <thread>

using namespace corvus::metrics;

TEST_CASE("Registry: counter and gauge text format, sorted by name and labels") {
  Registry r;
  auto& requests = r.counter("corvus_test_requests_total", "Requests seen.");
  requests.add({{"route", "docs"}, {"method", "GET"}}).inc();
  requests.add({{"route", "docs"}, {"method", "GET"}}).add(2);
  requests.add({{"route", "bulk"}, {"method", "POST"}}).inc();
  requests.add({{"route", "bulk"}, {"method", "POST"}}).add(-5);  // ignored
  auto& conns = r.gauge("corvus_test_connections", "Open connections.").add({});
  conns.set(5);
  conns.inc();
  conns.dec(2.5);

  CHECK(r.serialize() ==
        "# HELP corvus_test_connections Open connections.\n"
        "# TYPE corvus_test_connections gauge\n"
        "corvus_test_connections 3.5\n"
        "# HELP corvus_test_requests_total Requests seen.\n"
        "# TYPE corvus_test_requests_total counter\n"
        "corvus_test_requests_total{method=\"GET\",route=\"docs\"} 3\n"
        "corvus_test_requests_total{method=\"POST\",route=\"bulk\"} 1\n");
}

TEST_CASE("Registry: histogram buckets are cumulative with +Inf, _sum and _count") {
  Registry r;
  auto& h = r.histogram("corvus_test_seconds", "Latency.", {0.125, 1}).add({{"route", "docs"}});
  h.observe(0.0625);
  h.observe(0.125);  // le is inclusive
  h.observe(0.5);
  h.observe(4);
  CHECK(r.serialize() ==
        "# HELP corvus_test_seconds Latency.\n"
        "# TYPE corvus_test_seconds histogram\n"
        "corvus_test_seconds_bucket{route=\"docs\",le=\"0.125\"} 2\n"
        "corvus_test_seconds_bucket{route=\"docs\",le=\"1\"} 3\n"
        "corvus_test_seconds_bucket{route=\"docs\",le=\"+Inf\"} 4\n"
        "corvus_test_seconds_sum{route=\"docs\"} 4.6875\n"
        "corvus_test_seconds_count{route=\"docs\"} 4\n");
}

TEST_CASE("Registry: label values and help text are escaped") {
  Registry r;
  r.counter("corvus_test_total", "Line one\nback\\slash").add({{"db", "a\"b\\c\nd"}}).inc();
  CHECK(r.serialize() ==
        "# HELP corvus_test_total Line one\\nback\\\\slash\n"
        "# TYPE corvus_test_total counter\n"
        "corvus_test_total{db=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("Registry: same name returns the same family; references are stable") {
  Registry r;
  auto& f1 = r.counter("corvus_x_total", "X.");
  auto& c1 = f1.add({{"a", "1"}});
  for (int i = 0; i < 100; ++i) f1.add({{"a", std::to_string(i + 2)}});
  auto& f2 = r.counter("corvus_x_total", "ignored help");
  CHECK(&f1 == &f2);
  CHECK(&f2.add({{"a", "1"}}) == &c1);
}

TEST_CASE("Registry: collectors are merged in name order; registered families win") {
  Registry r;
  r.counter("corvus_b_total", "B.").add({}).inc();
  r.add_collector([](CollectorWriter& w) {
    w.gauge("corvus_c_size_bytes", "Size.", {{"db", "z"}}, 10);
    w.gauge("corvus_c_size_bytes", "Size.", {{"db", "a"}}, 1048576);
    w.counter("corvus_a_total", "A.", {}, 7);
    w.gauge("corvus_b_total", "Shadowed.", {}, 99);
  });
  CHECK(r.serialize() ==
        "# HELP corvus_a_total A.\n"
        "# TYPE corvus_a_total counter\n"
        "corvus_a_total 7\n"
        "# HELP corvus_b_total B.\n"
        "# TYPE corvus_b_total counter\n"
        "corvus_b_total 1\n"
        "# HELP corvus_c_size_bytes Size.\n"
        "# TYPE corvus_c_size_bytes gauge\n"
        "corvus_c_size_bytes{db=\"a\"} 1048576\n"
        "corvus_c_size_bytes{db=\"z\"} 10\n");
}

TEST_CASE("Registry: value formatting and name validation") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(42) == "42");
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(-1.5) == "-1.5");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(format_value(1e20) == "1e+20");
  CHECK(valid_metric_name("corvus_http_requests_total"));
  CHECK(valid_metric_name("a:b"));
  CHECK_FALSE(valid_metric_name("9abc"));
  CHECK_FALSE(valid_metric_name("a-b"));
  CHECK(valid_label_name("route"));
  CHECK_FALSE(valid_label_name("__name"));
  CHECK_FALSE(valid_label_name("a:b"));
}

TEST_CASE("Registry: concurrent observes are all counted") {
  Registry r;
  auto& c = r.counter("corvus_t_total", "T.").add({});
  auto& h = r.histogram("corvus_t_seconds", "T.", Histogram::default_latency_buckets()).add({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.value() == 40000);
  auto s = h.snapshot();
  CHECK(s.count == 40000);
  CHECK(s.cumulative.front() == 0);  // 0.001 > 0.0005
  CHECK(s.cumulative[1] == 40000);
}
