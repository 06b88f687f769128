#include "query/text_terms.h"

#include "query/value_comparison.h"

namespace corvus::query {

namespace {

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void split(std::string_view text, bool keep_stars, std::vector<std::string>& out) {
  std::string current;
  for (char c : text) {
    if (is_word_byte(c) || (keep_stars && c == '*')) {
      current.push_back(c);
    } else if (!current.empty()) {
      out.push_back(to_lower(current));
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(to_lower(current));
}

}  // namespace

void tokenize_words(std::string_view text, std::vector<std::string>& out) { split(text, false, out); }

std::vector<std::string> tokenize_search_terms(std::string_view text) {
  std::vector<std::string> terms;
  split(text, true, terms);
  return terms;
}

bool term_matches(std::string_view term, std::string_view word) {
  // Greedy wildcard matching with backtracking to the last star: linear in
  // practice, no recursion.
  size_t t = 0, w = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (w < word.size()) {
    if (t < term.size() && term[t] == '*') {
      star = t++;
      resume = w;
    } else if (t < term.size() && term[t] == word[w]) {
      ++t;
      ++w;
    } else if (star != std::string_view::npos) {
      t = star + 1;
      w = ++resume;
    } else {
      return false;
    }
  }
  while (t < term.size() && term[t] == '*') ++t;
  return t == term.size();
}

}  // namespace corvus::query
