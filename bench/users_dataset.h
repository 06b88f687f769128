// The Users data set of the query benchmark (bench/query_bench.sh), shared by
// the tools that write it and the ones that query it, so that corvusd and
// PostgreSQL hold the same documents and are asked the same questions:
// document i's id and JSON body, and the random parameters of each query kind.
//
// Document i (0-based), about 1 KB:
//   {"Name":"User <i>","Age":<0..99>,"City":"City-<k>","Score":<0..999999.999>,"Padding":"..."}
// where k is uniform in [0, cities) (about docs/cities documents per city) and
// Score uniform in [0, 1e6) with three decimals, all from a fixed hash of i, so
// the values of one city or one score range are spread over the whole etag order.
// Pure functions; any thread. Benchmarks only: nothing here is used by the server.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace corvus::bench::users {

// splitmix64: a fixed, well-mixed hash of the document number.
inline uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline constexpr uint64_t kScoreMillis = 1000000000ull;  // Score in [0, 1e6) with 3 decimals
inline constexpr size_t kDocSize = 1024;                 // the body's size without @metadata

inline std::string user_id(uint64_t i) { return "users/" + std::to_string(i); }
inline std::string city_name(uint64_t k) { return "City-" + std::to_string(k); }
inline uint64_t city_of(uint64_t i, uint64_t cities) { return mix(i) % cities; }
inline uint64_t age_of(uint64_t i) { return mix(i ^ 0xA6Eull) % 100; }
inline uint64_t score_millis_of(uint64_t i) { return mix(i ^ 0x5C0Eull) % kScoreMillis; }

// "123.456" for a score in thousandths.
inline std::string score_text(uint64_t millis) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%03llu", static_cast<unsigned long long>(millis / 1000),
                static_cast<unsigned long long>(millis % 1000));
  return buf;
}

// Document i's JSON object, padded to kDocSize bytes; `metadata` (e.g.
// ,"@metadata":{...}) goes in before the closing brace.
inline std::string user_body(uint64_t i, uint64_t cities, const char* metadata = "") {
  std::string doc = "{\"Name\":\"User " + std::to_string(i) + "\",\"Age\":" + std::to_string(age_of(i)) +
                    ",\"City\":\"" + city_name(city_of(i, cities)) + "\",\"Score\":" +
                    score_text(score_millis_of(i)) + ",\"Padding\":\"";
  const size_t fixed = doc.size() + 2;  // "}
  uint64_t x = mix(i ^ 0xBADull);
  for (size_t n = fixed; n < kDocSize; ++n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    doc += static_cast<char>('a' + (x % 26));
  }
  doc += '"';
  doc += metadata;
  doc += '}';
  return doc;
}

// The query kinds and their random parameters. Equality: one city
// (~docs/cities matches). Range: Score in [a, a + width] (~docs * width / 1e6
// matches), both bounds as text with three decimals. Sorted: the page at
// `offset` (below kMaxSortedOffset) of every document by Score, descending.
constexpr uint64_t kMaxSortedOffset = 1000;
struct QueryParams {
  std::string city;
  std::string low, high;
  std::string offset;
};

inline QueryParams random_params(std::mt19937_64& rng, uint64_t cities, uint64_t width_millis) {
  QueryParams p;
  p.city = city_name(std::uniform_int_distribution<uint64_t>(0, cities - 1)(rng));
  const uint64_t span = width_millis < kScoreMillis ? kScoreMillis - width_millis : 1;
  uint64_t low = std::uniform_int_distribution<uint64_t>(0, span - 1)(rng);
  p.low = score_text(low);
  p.high = score_text(low + width_millis);
  p.offset = std::to_string(std::uniform_int_distribution<uint64_t>(0, kMaxSortedOffset - 1)(rng));
  return p;
}

}  // namespace corvus::bench::users
