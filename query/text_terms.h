#pragma once
// The tokenizer and term matching behind RQL's search(): a value is split into
// words on every non-alphanumeric ASCII byte and lower-cased (to_lower in
// value_comparison.h); bytes >= 0x80 count as letters, so UTF-8 words stay whole. A term may carry `*` wildcards (prefix*,
// *suffix, *contains*, a*b). Free functions: no state, safe from any thread.
//
// RavenDB's search() goes through Lucene's analyzer (lower-casing, stop words,
// stemming in some configurations); this is the plain lower-casing word
// tokenizer, without stop words: a deliberate simplification.

#include <string>
#include <string_view>
#include <vector>

namespace corvus::query {

// The lower-cased words of `text`, appended to `out`.
void tokenize_words(std::string_view text, std::vector<std::string>& out);

// The lower-cased terms of a search() argument: like tokenize_words, but `*`
// stays part of a term.
std::vector<std::string> tokenize_search_terms(std::string_view text);

// Whether `word` matches `term`, where `*` in term matches any run of bytes.
bool term_matches(std::string_view term, std::string_view word);

}  // namespace corvus::query
