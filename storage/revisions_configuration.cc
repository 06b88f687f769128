#include "storage/revisions_configuration.h"

#include <cstdio>

#include "storage/document.h"

namespace corvus::storage {
namespace json = boost::json;

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

// An optional non-negative integer field: absent or null is unset.
Status read_count(const json::object& o, std::string_view key, std::string_view where, std::optional<int64_t>* out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (v->is_int64() && v->as_int64() >= 0) {
    *out = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v->as_uint64());
  } else {
    return Status::InvalidArgument(std::string(where) + "." + std::string(key) +
                                   " must be a non-negative integer or null");
  }
  return Status::Ok();
}

Status read_bool(const json::object& o, std::string_view key, std::string_view where, bool* out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_bool()) return Status::InvalidArgument(std::string(where) + "." + std::string(key) + " must be a boolean");
  *out = v->as_bool();
  return Status::Ok();
}

// Reads up to `max_digits` decimal digits from the front of `s`; -1 if none.
int64_t take_number(std::string_view& s, size_t max_digits) {
  size_t n = 0;
  int64_t v = 0;
  while (n < s.size() && n < max_digits && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
  if (n == 0) return -1;
  s.remove_prefix(n);
  return v;
}

}  // namespace

Result<int64_t> parse_timespan(std::string_view text) {
  const auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a TimeSpan (expected [-][d.]hh:mm:ss[.fffffff], e.g. \"7.00:00:00\")");
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  int64_t days = 0;
  int64_t first = take_number(s, 8);
  if (first < 0) return bad();
  int64_t hours = 0;
  if (!s.empty() && s[0] == '.') {
    days = first;
    s.remove_prefix(1);
    hours = take_number(s, 2);
  } else if (s.empty()) {
    days = first;  // "7" is seven days in .NET
    hours = 0;
    return (negative ? -1 : 1) * days * 86400 * kMicrosPerSecond;
  } else {
    hours = first;
  }
  if (hours < 0 || hours > 23 || s.empty() || s[0] != ':') return bad();
  s.remove_prefix(1);
  const int64_t minutes = take_number(s, 2);
  if (minutes < 0 || minutes > 59 || s.empty() || s[0] != ':') return bad();
  s.remove_prefix(1);
  const int64_t seconds = take_number(s, 2);
  if (seconds < 0 || seconds > 59) return bad();
  int64_t fraction_us = 0;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    const size_t before = s.size();
    int64_t f = take_number(s, 7);
    if (f < 0) return bad();
    for (size_t digits = before - s.size(); digits < 7; ++digits) f *= 10;
    fraction_us = f / 10;  // ticks (100 ns) to microseconds
  }
  if (!s.empty()) return bad();
  const int64_t total = ((days * 24 + hours) * 60 + minutes) * 60 * kMicrosPerSecond + seconds * kMicrosPerSecond +
                        fraction_us;
  return negative ? -total : total;
}

std::string format_timespan(int64_t micros) {
  const bool negative = micros < 0;
  uint64_t us = negative ? static_cast<uint64_t>(-micros) : static_cast<uint64_t>(micros);
  const uint64_t fraction = us % kMicrosPerSecond;
  uint64_t secs = us / kMicrosPerSecond;
  const uint64_t days = secs / 86400;
  secs %= 86400;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%s", negative ? "-" : "");
  if (days > 0) n += std::snprintf(buf + n, sizeof buf - n, "%llu.", static_cast<unsigned long long>(days));
  n += std::snprintf(buf + n, sizeof buf - n, "%02llu:%02llu:%02llu", static_cast<unsigned long long>(secs / 3600),
                     static_cast<unsigned long long>(secs / 60 % 60), static_cast<unsigned long long>(secs % 60));
  if (fraction) std::snprintf(buf + n, sizeof buf - n, ".%07llu", static_cast<unsigned long long>(fraction * 10));
  return buf;
}

json::object RevisionsCollectionConfiguration::to_json() const {
  json::object o;
  o["Disabled"] = disabled;
  o["MinimumRevisionsToKeep"] = minimum_revisions_to_keep ? json::value(*minimum_revisions_to_keep) : nullptr;
  o["MinimumRevisionAgeToKeep"] =
      minimum_revision_age_to_keep_us ? json::value(format_timespan(*minimum_revision_age_to_keep_us)) : nullptr;
  o["PurgeOnDelete"] = purge_on_delete;
  o["MaximumRevisionsToDeleteUponDocumentUpdate"] =
      maximum_revisions_to_delete_upon_document_update
          ? json::value(*maximum_revisions_to_delete_upon_document_update)
          : nullptr;
  return o;
}

Result<RevisionsCollectionConfiguration> RevisionsCollectionConfiguration::from_json(const json::value& v,
                                                                                     std::string_view where) {
  if (!v.is_object()) return Status::InvalidArgument(std::string(where) + " must be an object");
  const json::object& o = v.as_object();
  RevisionsCollectionConfiguration c;
  if (Status s = read_bool(o, "Disabled", where, &c.disabled); !s.ok()) return s;
  if (Status s = read_bool(o, "PurgeOnDelete", where, &c.purge_on_delete); !s.ok()) return s;
  if (Status s = read_count(o, "MinimumRevisionsToKeep", where, &c.minimum_revisions_to_keep); !s.ok()) return s;
  if (Status s = read_count(o, "MaximumRevisionsToDeleteUponDocumentUpdate", where,
                            &c.maximum_revisions_to_delete_upon_document_update);
      !s.ok())
    return s;
  if (c.maximum_revisions_to_delete_upon_document_update == 0) {
    return Status::InvalidArgument(std::string(where) +
                                   ".MaximumRevisionsToDeleteUponDocumentUpdate must be greater than 0 or null");
  }
  if (const json::value* age = o.if_contains("MinimumRevisionAgeToKeep"); age && !age->is_null()) {
    if (!age->is_string()) {
      return Status::InvalidArgument(std::string(where) + ".MinimumRevisionAgeToKeep must be a TimeSpan string");
    }
    auto us = parse_timespan(age->as_string());
    if (!us.ok()) return Status::InvalidArgument(std::string(where) + ".MinimumRevisionAgeToKeep: " + us.status().message());
    if (*us < 0) return Status::InvalidArgument(std::string(where) + ".MinimumRevisionAgeToKeep must not be negative");
    c.minimum_revision_age_to_keep_us = *us;
  }
  return c;
}

const RevisionsCollectionConfiguration* RevisionsConfiguration::for_collection(std::string_view collection) const {
  auto it = collections.find(lower_id(collection.empty() ? "@empty" : collection));
  const RevisionsCollectionConfiguration* c =
      it != collections.end() ? &it->second.second : (default_config ? &*default_config : nullptr);
  return c && !c->disabled ? c : nullptr;
}

json::object RevisionsConfiguration::to_json() const {
  json::object o;
  o["Default"] = default_config ? json::value(default_config->to_json()) : nullptr;
  json::object cols;
  for (const auto& [key, entry] : collections) cols[entry.first] = entry.second.to_json();
  o["Collections"] = std::move(cols);
  return o;
}

Result<RevisionsConfiguration> RevisionsConfiguration::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("the revisions configuration must be a JSON object");
  const json::object& o = v.as_object();
  RevisionsConfiguration c;
  if (const json::value* d = o.if_contains("Default"); d && !d->is_null()) {
    auto parsed = RevisionsCollectionConfiguration::from_json(*d, "Default");
    if (!parsed.ok()) return parsed.status();
    c.default_config = std::move(parsed).value();
  }
  if (const json::value* cols = o.if_contains("Collections"); cols && !cols->is_null()) {
    if (!cols->is_object()) return Status::InvalidArgument("Collections must be an object (collection -> configuration)");
    for (const auto& kv : cols->as_object()) {
      const std::string name(kv.key());
      if (name.empty()) return Status::InvalidArgument("Collections has an empty collection name");
      auto parsed = RevisionsCollectionConfiguration::from_json(kv.value(), "Collections['" + name + "']");
      if (!parsed.ok()) return parsed.status();
      if (!c.collections.emplace(lower_id(name), std::make_pair(name, std::move(parsed).value())).second) {
        return Status::InvalidArgument("Collections names '" + name + "' twice (names are case-insensitive)");
      }
    }
  }
  return c;
}

}  // namespace corvus::storage
