#pragma once
// IdPatterns: the `matches` / `exclude` filters of /streams/docs (and
// RavenDB's "starting with" loads): wildcard patterns separated by '|', '*'
// for any run of characters, '?' for one character, compared without case
// against the part of a document id after the requested prefix.
// A plain value; const use is thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace corvus::server::handlers {

class IdPatterns {
 public:
  // "" (or only separators) gives no patterns.
  static IdPatterns parse(std::string_view text);

  bool empty() const { return patterns_.empty(); }
  // Whether `rest` (an id without its prefix) matches any of the patterns.
  bool any_matches(std::string_view rest) const;

 private:
  std::vector<std::string> patterns_;  // lowered (storage::lower_id)
};

}  // namespace corvus::server::handlers
