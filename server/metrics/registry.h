#pragma once
// corvus::metrics: counters, gauges and histograms, written in the Prometheus text
// exposition format (version 0.0.4) by Registry::serialize().
//
// Shaped like prometheus-cpp so that library could replace it: a Registry owns
// Families (one metric name, one HELP text, one type); a Family owns one metric per
// label set. Metric objects are created on first use and never destroyed before
// the Registry, so callers keep `Counter&` / `Histogram&` references and update them
// without any lookup.
//
// Thread-safety: everything is thread-safe. Updating a metric (inc/add/set/observe)
// is lock-free (relaxed atomics). Creating a family or a label set takes a mutex, so
// hot paths should resolve their metric once and keep the reference. serialize()
// takes the family mutexes briefly and calls collectors outside any registry lock.
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
// (and not "le" on histograms). Breaking that, or registering one name twice with
// different types, is a programming error and aborts.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corvus::metrics {

using Labels = std::map<std::string, std::string>;

enum class MetricType { Counter, Gauge, Histogram };

// Monotonic value. Default: 0.
class Counter {
 public:
  void inc() { add(1.0); }
  // Negative or NaN increments are ignored (a counter never goes down).
  void add(double v) {
    if (!(v >= 0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Value that goes up and down. Default: 0.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Distribution over fixed upper bounds (ascending, finite; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;                // == cumulative.back()
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

  // 0.5 ms .. 10 s: request latencies.
  static std::vector<double> default_latency_buckets();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

// Common part of Family<T>; used by Registry::serialize().
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type)
      : name_(std::move(name)), help_(std::move(help)), type_(type) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  // Appends the sample lines (no HELP/TYPE) to `out`.
  virtual void write_samples(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
};

// All metrics of one name. Owned by the Registry.
template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type), bounds_(std::move(bounds)) {}

  // Returns the metric for `labels`, creating it on first use. The reference stays
  // valid as long as the Registry. Takes a mutex: resolve once, keep the reference.
  T& add(const Labels& labels);

  void write_samples(std::string& out) const override;

 private:
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> metrics_;
};

// Passed to collectors at scrape time to report values read on demand (RocksDB
// sizes, open databases). Samples with the same name are grouped under one
// HELP/TYPE; the first help text wins. A name that is also a registered family is
// dropped (the family wins).
class CollectorWriter {
 public:
  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);

 private:
  friend class Registry;
  struct Sampled {
    MetricType type;
    std::string help;
    std::vector<std::pair<Labels, double>> samples;
  };
  void record(MetricType type, std::string_view name, std::string_view help, const Labels& labels,
              double value);
  std::map<std::string, Sampled, std::less<>> families_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Return the family of that name, creating it on first call. A second call with
  // the same name returns the same family (help/buckets of the first call win).
  Family<Counter>& counter(std::string_view name, std::string_view help);
  Family<Gauge>& gauge(std::string_view name, std::string_view help);
  // `bounds` must be ascending and finite.
  Family<Histogram>& histogram(std::string_view name, std::string_view help, std::vector<double> bounds);

  // Called on every serialize(), from the scraping thread, with no registry lock
  // held. Must be thread-safe and must not call back into this Registry.
  void add_collector(std::function<void(CollectorWriter&)> collector);

  // Prometheus text format: families sorted by name, samples sorted by labels.
  std::string serialize() const;

 private:
  FamilyBase* find_or_null(std::string_view name, MetricType type);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
  std::vector<std::shared_ptr<std::function<void(CollectorWriter&)>>> collectors_;
};

// Helpers shared with tests.
// Formats a sample value: integers without exponent or fraction where exact,
// otherwise the shortest round-trip form; "+Inf", "-Inf", "NaN".
std::string format_value(double v);
// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
// Escapes a HELP text: backslash and newline.
std::string escape_help(std::string_view v);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace corvus::metrics
