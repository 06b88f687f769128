// RQL parsing: how long parse_rql takes on the queries the clients send, so the
// query runner can tell whether caching parsed queries is worth it. Not a test:
// it prints figures.
//
//   corvus-rql-parse-bench [iterations=200000]
//
// Each query of the set below (what the npm client emits, plus a long hand-written
// one) is parsed `iterations` times; it prints microseconds per parse and MB/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "query/rql_parser.h"

namespace {

const char* const kQueries[] = {
    "from 'Users' where name = $p0",
    "from 'Users' where name = $p0 order by age as long desc limit $p1, $p2",
    "from 'Users' where age > $p0 and startsWith(name, $p1) include friendId",
    "from index 'Users/ByName' where name in ($p0)",
    "from 'Users' where true and not (exists(age) or search(name, $p0, and)) select distinct name",
    "from 'Orders' as o where o.Company = $p0 and o.Lines[].Product in ($p1) and o.Freight "
    "between $p2 and $p3 or exact(o.ShipTo.City = $p4) order by o.OrderedAt desc, id() "
    "load o.Company as c, o.Employee as e select o.Freight, c.Name as Company, e.LastName as "
    "Employee, id(o) as Id include o.Company, counters(o, 'likes'), cmpxchg('Owner') "
    "limit $p5, $p6",
};

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 200000;
  for (const char* text : kQueries) {
    const std::string query(text);
    size_t checksum = 0;
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) {
      auto q = corvus::query::parse_rql(query);
      if (!q.ok()) {
        std::fprintf(stderr, "%s: %s\n", text, q.status().to_string().c_str());
        return 1;
      }
      checksum += q->source_name.size();  // keeps the parse from being optimised away
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%7.2f us/parse %7.1f MB/s  (%zu bytes, checksum %zu)  %.60s%s\n",
                seconds * 1e6 / static_cast<double>(iterations),
                static_cast<double>(query.size()) * static_cast<double>(iterations) / seconds / 1e6,
                query.size(), checksum, text, query.size() > 60 ? "..." : "");
  }
  return 0;
}
