#include "server/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace corvus::metrics {
namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "corvus::metrics: %s\n", what.c_str());
  std::abort();
}

void check_labels(const std::string& family, const Labels& labels, bool histogram) {
  for (const auto& [k, v] : labels) {
    if (!valid_label_name(k) || (histogram && k == "le")) {
      die("invalid label name '" + k + "' on metric " + family);
    }
  }
}

// Appends {k="v",...} plus an optional trailing le label; nothing when empty.
void append_labels(std::string& out, const Labels& labels, const char* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out.push_back('"');
  }
  if (le != nullptr) {
    if (!first) out.push_back(',');
    out += "le=\"";
    out += le;
    out.push_back('"');
  }
  out.push_back('}');
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix, const Labels& labels,
                   double value, const char* le = nullptr) {
  out += name;
  out += suffix;
  append_labels(out, labels, le);
  out.push_back(' ');
  out += format_value(value);
  out.push_back('\n');
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

void append_header(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type_name(type);
  out.push_back('\n');
}

}  // namespace

// ---- Histogram --------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i] > bounds_[i - 1]))) {
      die("histogram bounds must be finite and strictly ascending");
    }
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Buckets are few (~15): a linear scan beats binary search and never branches
  // unpredictably for typical latencies in the first few buckets.
  size_t i = 0;
  const size_t n = bounds_.size();
  while (i < n && !(v <= bounds_[i])) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> Histogram::default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---- Family -----------------------------------------------------------------

template <typename T>
T& Family<T>::add(const Labels& labels) {
  std::lock_guard lock(mu_);
  auto it = metrics_.find(labels);
  if (it != metrics_.end()) return *it->second;
  check_labels(name(), labels, type() == MetricType::Histogram);
  std::unique_ptr<T> metric;
  if constexpr (std::is_same_v<T, Histogram>) {
    metric = std::make_unique<Histogram>(bounds_);
  } else {
    metric = std::make_unique<T>();
  }
  T& ref = *metric;
  metrics_.emplace(labels, std::move(metric));
  return ref;
}

template <typename T>
void Family<T>::write_samples(std::string& out) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, metric] : metrics_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      Histogram::Snapshot s = metric->snapshot();
      const auto& bounds = metric->bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        std::string le = format_value(bounds[i]);
        append_sample(out, name(), "_bucket", labels, static_cast<double>(s.cumulative[i]), le.c_str());
      }
      append_sample(out, name(), "_bucket", labels, static_cast<double>(s.count), "+Inf");
      append_sample(out, name(), "_sum", labels, s.sum);
      append_sample(out, name(), "_count", labels, static_cast<double>(s.count));
    } else {
      append_sample(out, name(), "", labels, metric->value());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- CollectorWriter --------------------------------------------------------

void CollectorWriter::counter(std::string_view name, std::string_view help, const Labels& labels, double value) {
  record(MetricType::Counter, name, help, labels, value);
}

void CollectorWriter::gauge(std::string_view name, std::string_view help, const Labels& labels, double value) {
  record(MetricType::Gauge, name, help, labels, value);
}

void CollectorWriter::record(MetricType type, std::string_view name, std::string_view help,
                             const Labels& labels, double value) {
  if (!valid_metric_name(name)) die("invalid metric name '" + std::string(name) + "' from a collector");
  check_labels(std::string(name), labels, false);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Sampled{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    return;  // conflicting type for one name: keep the first
  }
  it->second.samples.emplace_back(labels, value);
}

// ---- Registry ---------------------------------------------------------------

FamilyBase* Registry::find_or_null(std::string_view name, MetricType type) {
  if (!valid_metric_name(name)) die("invalid metric name '" + std::string(name) + "'");
  auto it = families_.find(name);
  if (it == families_.end()) return nullptr;
  if (it->second->type() != type) die("metric '" + std::string(name) + "' registered twice with different types");
  return it->second.get();
}

Family<Counter>& Registry::counter(std::string_view name, std::string_view help) {
  std::lock_guard lock(mu_);
  if (auto* f = find_or_null(name, MetricType::Counter)) return static_cast<Family<Counter>&>(*f);
  auto f = std::make_unique<Family<Counter>>(std::string(name), std::string(help), MetricType::Counter);
  auto& ref = *f;
  families_.emplace(std::string(name), std::move(f));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string_view name, std::string_view help) {
  std::lock_guard lock(mu_);
  if (auto* f = find_or_null(name, MetricType::Gauge)) return static_cast<Family<Gauge>&>(*f);
  auto f = std::make_unique<Family<Gauge>>(std::string(name), std::string(help), MetricType::Gauge);
  auto& ref = *f;
  families_.emplace(std::string(name), std::move(f));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  if (auto* f = find_or_null(name, MetricType::Histogram)) return static_cast<Family<Histogram>&>(*f);
  Histogram validate(bounds);  // aborts early on bad bounds, at registration rather than first use
  auto f = std::make_unique<Family<Histogram>>(std::string(name), std::string(help), MetricType::Histogram,
                                               std::move(bounds));
  auto& ref = *f;
  families_.emplace(std::string(name), std::move(f));
  return ref;
}

void Registry::add_collector(std::function<void(CollectorWriter&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::make_shared<std::function<void(CollectorWriter&)>>(std::move(collector)));
}

std::string Registry::serialize() const {
  std::vector<std::shared_ptr<std::function<void(CollectorWriter&)>>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  CollectorWriter writer;
  for (const auto& c : collectors) (*c)(writer);

  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mu_);
  // Merge the two sorted name lists so the output stays sorted by name.
  auto fit = families_.begin();
  auto cit = writer.families_.begin();
  while (fit != families_.end() || cit != writer.families_.end()) {
    bool take_family = cit == writer.families_.end() ||
                       (fit != families_.end() && fit->first <= cit->first);
    if (take_family) {
      if (cit != writer.families_.end() && fit->first == cit->first) ++cit;  // the family wins
      const FamilyBase& f = *fit->second;
      append_header(out, f.name(), f.help(), f.type());
      f.write_samples(out);
      ++fit;
    } else {
      auto& [name, sampled] = *cit;
      append_header(out, name, sampled.help, sampled.type);
      auto samples = sampled.samples;
      std::stable_sort(samples.begin(), samples.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [labels, value] : samples) append_sample(out, name, "", labels, value);
      ++cit;
    }
  }
  return out;
}

// ---- helpers ----------------------------------------------------------------

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    return std::string(buf, end);
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(is_alpha(c) || c == ':' || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;  // reserved
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(is_alpha(c) || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

}  // namespace corvus::metrics
