#pragma once
// QueryString: the decoded parameters of a request target's query part.
//
// Tolerant by design (REST.md conventions): the RavenDB clients build query
// strings by concatenation, so "?&id=users%2F1", bare keys ("first-topology-update")
// and repeated keys ("id=a&id=b") all occur. Keys and values are percent-decoded and
// '+' decodes to a space; a malformed escape ("%zz", "%4") is kept literally.
// Keys are case-sensitive. A value type; not synchronized (owned by one Request).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corvus::server::http {

class QueryString {
 public:
  // `raw_query` is the part after '?', may be empty or start with '&'.
  static QueryString parse(std::string_view raw_query);

  // Replaces the contents with the parse of `raw_query`, reusing capacity (used by
  // the connection to avoid allocating per request).
  void assign(std::string_view raw_query);
  void clear() { params_.clear(); }

  // First value of `key`; a bare key yields "". nullopt if absent.
  std::optional<std::string> get(std::string_view key) const;
  // All values of `key` in order of appearance (bare keys give "").
  std::vector<std::string> get_all(std::string_view key) const;
  bool has(std::string_view key) const;
  // First value without copying; nullptr if absent. Valid until the next assign().
  const std::string* find(std::string_view key) const;

  // All decoded pairs in order.
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// Percent-decodes `in` into `out` (appending). '+' becomes ' ' only when
// `plus_is_space` (query strings, not paths). Malformed escapes are kept as is.
void percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace corvus::server::http
