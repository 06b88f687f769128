// The pure parts of data subscriptions: the TCP header negotiation
// (server/tcp/tcp_negotiation.h), the query a subscription accepts
// (SubscriptionQuery) and the shared cursor of its workers
// (SubscriptionCursor: leases, ranges given back, the floor to record), and
// the takeover rule (delivered_versions.h: which versions count as delivered,
// when acknowledgements carry them).
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "server/subscriptions/delivered_versions.h"
#include "server/subscriptions/subscription_cursor.h"
#include "server/subscriptions/subscription_query.h"
#include "server/tcp/tcp_negotiation.h"

using namespace corvus;
using namespace corvus::server;
namespace json = boost::json;

TEST_CASE("negotiate: exact versions agree; others get the next lower one, or -1 below all and for unknown operations") {
  const std::vector<std::int64_t> versions{53000, 51000, 50000, 41400, 40};
  auto header = [](std::int64_t v) {
    tcp::TcpConnectionHeader h;
    h.operation = "Subscription";
    h.version = v;
    return h;
  };
  auto ok = tcp::negotiate(versions, header(51000));
  CHECK(ok.agreed);
  CHECK(ok.version == 51000);
  CHECK(ok.to_json().at("Status") == "Ok");
  CHECK(ok.to_json().at("LicensedFeatures").at("DataCompression") == false);
  auto newer = tcp::negotiate(versions, header(70000));
  CHECK_FALSE(newer.agreed);
  CHECK(newer.version == 53000);
  CHECK(newer.to_json().at("Status") == "TcpVersionMismatch");
  CHECK(tcp::negotiate(versions, header(45000)).version == 41400);
  CHECK(tcp::negotiate(versions, header(39)).version == -1);
  auto unknown = tcp::negotiate({}, header(53000));
  CHECK(unknown.version == -1);
  CHECK(unknown.message.find("Subscription") != std::string::npos);

  CHECK(tcp::parse_connection_header(json::parse(R"({"Operation":"Subscription","OperationVersion":40})")).ok());
  CHECK(tcp::parse_connection_header(json::parse(R"({"OperationVersion":40})")).status().is_invalid_argument());
  CHECK(tcp::parse_connection_header(json::parse(R"({"Operation":"Subscription","OperationVersion":"40"})"))
            .status()
            .is_invalid_argument());
  CHECK(tcp::parse_connection_header(json::parse("[1]")).status().is_invalid_argument());
}

TEST_CASE("SubscriptionQuery: collections, where clauses and includes; what a subscription cannot do is refused") {
  auto q = subscriptions::SubscriptionQuery::parse("from Users as u where u.Age >= 18 include u.Company");
  REQUIRE(q.ok());
  storage::Document adult{"users/1", "users", 1, "A:1-x", 0, 0,
                          R"({"Age":30,"Company":"companies/1","@metadata":{"@collection":"Users"}})"};
  storage::Document child = adult;
  child.json = R"({"Age":3,"@metadata":{"@collection":"Users"}})";
  storage::Document order = adult;
  order.collection = "Orders";
  CHECK(*q.value()->matches(adult));
  CHECK_FALSE(*q.value()->matches(child));
  CHECK_FALSE(*q.value()->matches(order));
  CHECK(q.value()->included_ids(adult) == std::vector<std::string>{"companies/1"});

  auto all = subscriptions::SubscriptionQuery::parse("from @all_docs");
  REQUIRE(all.ok());
  CHECK(*all.value()->matches(order));

  for (const char* bad : {"from Users where", "from index 'I'", "from Users order by Age", "from Users select Age",
                          "from Users limit 5", "from Users as u load u.Company as c", "from Users where Age = $p",
                          "from Users as u include counters(u.Company, 'likes')", "from Users include cmpxchg('k')",
                          "from Users include counters(1)"}) {
    CHECK_MESSAGE(subscriptions::SubscriptionQuery::parse(bad).status().is_invalid_argument(), bad);
  }
}

TEST_CASE("SubscriptionQuery: the delivered document's own counters, all or by name") {
  auto none = subscriptions::SubscriptionQuery::parse("from Users");
  REQUIRE(none.ok());
  CHECK_FALSE(none.value()->includes_counters());
  auto all = subscriptions::SubscriptionQuery::parse("from Users include counters()");
  REQUIRE(all.ok());
  CHECK(all.value()->includes_all_counters());
  auto named = subscriptions::SubscriptionQuery::parse("from Users include counters('likes'), counters('dislikes'), counters('likes')");
  REQUIRE(named.ok());
  CHECK_FALSE(named.value()->includes_all_counters());
  CHECK(named.value()->included_counter_names() == std::vector<std::string>{"likes", "dislikes"});
}

namespace {

// A reader over a fixed etag order: every etag in `docs` matches; at most `max` per scan.
subscriptions::SubscriptionCursor::Reader reader(std::vector<std::uint64_t> docs, std::size_t max,
                                                 std::vector<std::uint64_t>* taken) {
  return [docs, max, taken](std::uint64_t after, std::uint64_t upto) -> Result<subscriptions::SubscriptionCursor::Scan> {
    subscriptions::SubscriptionCursor::Scan s{after, 0};
    taken->clear();
    for (std::uint64_t e : docs) {
      if (e <= after || e > upto) continue;
      if (s.documents == max) break;
      s.scanned_to = e;
      ++s.documents;
      taken->push_back(e);
    }
    return s;
  };
}

}  // namespace

TEST_CASE("SubscriptionCursor: leases never overlap; a range given back goes to the next scan; the floor is below every lease") {
  subscriptions::SubscriptionCursor cursor(0);
  std::vector<std::uint64_t> taken;
  const auto read = reader({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 3, &taken);
  std::uint64_t a = 0, b = 0, c = 0;
  REQUIRE(cursor.next(read, &a).ok());
  CHECK(taken == std::vector<std::uint64_t>{1, 2, 3});
  REQUIRE(cursor.next(read, &b).ok());
  CHECK(taken == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(a != 0);
  CHECK(b != 0);
  // b acknowledges first: a's range is still out, so the floor stays at 0.
  CHECK(cursor.floor_without(b) == 0);
  cursor.acknowledged(b);
  // a leaves: its range comes back before anything new, in pieces if it must.
  cursor.abandoned(a);
  const auto read_two = reader({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, &taken);
  REQUIRE(cursor.next(read_two, &c).ok());
  CHECK(taken == std::vector<std::uint64_t>{1, 2});
  std::uint64_t d = 0;
  REQUIRE(cursor.next(read_two, &d).ok());
  CHECK(taken == std::vector<std::uint64_t>{3});
  std::uint64_t e = 0;
  REQUIRE(cursor.next(read_two, &e).ok());
  CHECK(taken == std::vector<std::uint64_t>{7, 8});
  cursor.acknowledged(c);
  cursor.acknowledged(d);
  CHECK(cursor.floor_without(e) == 8);
  cursor.acknowledged(e);
  // Nothing new: no lease, the head moves to the end of what was scanned.
  std::uint64_t f = 0;
  REQUIRE(cursor.next(reader({}, 3, &taken), &f).ok());
  CHECK(f == 0);
  REQUIRE(cursor.next(read, &f).ok());
  CHECK(taken == std::vector<std::uint64_t>{9, 10});
  CHECK(cursor.floor_without(f) == 10);
}

TEST_CASE("SubscriptionCursor: a range given back whose documents went is passed over in the same call") {
  subscriptions::SubscriptionCursor cursor(0);
  std::vector<std::uint64_t> taken;
  std::uint64_t a = 0;
  REQUIRE(cursor.next(reader({1, 2, 3}, 3, &taken), &a).ok());
  cursor.abandoned(a);
  // 1..3 were changed meanwhile (new etags 4..6): the given-back range is empty.
  std::uint64_t b = 0;
  auto scan = cursor.next(reader({4, 5, 6}, 10, &taken), &b);
  REQUIRE(scan.ok());
  CHECK(taken == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(b != 0);
  CHECK(cursor.floor_without(b) == 6);
}

TEST_CASE("delivered_covers: an equal or older version was delivered; a newer or concurrent one was not") {
  using subscriptions::delivered_covers;
  const std::string delivered = "A:5-dbA, B:3-dbB";
  CHECK(delivered_covers(delivered, "A:5-dbA, B:3-dbB"));   // that version
  CHECK(delivered_covers(delivered, "B:3-dbB, A:5-dbA"));   // any order
  CHECK(delivered_covers(delivered, "A:4-dbA"));            // an older one, which the delivered one contains
  CHECK_FALSE(delivered_covers(delivered, "A:6-dbA, B:3-dbB"));  // changed after its delivery
  CHECK_FALSE(delivered_covers(delivered, "A:5-dbA, B:3-dbB, C:1-dbC"));
  CHECK_FALSE(delivered_covers(delivered, "A:4-dbA, C:1-dbC"));  // concurrent: a version never delivered
  // What cannot be compared is delivered again.
  CHECK_FALSE(delivered_covers("", "A:1-dbA"));
  CHECK_FALSE(delivered_covers(delivered, ""));
  CHECK_FALSE(delivered_covers("not a change vector", "A:1-dbA"));
}

TEST_CASE("records_delivered: only for a group of more than one node, once every node applies version 11") {
  using subscriptions::records_delivered;
  rachis::cluster::DatabaseRecord db;
  db.name = "db";
  db.topology.members = {"A"};
  rachis::cluster::Topology topology;
  for (const char* tag : {"A", "B", "C"}) {
    rachis::cluster::NodeInfo n;
    n.tag = tag;
    n.command_version = rachis::cluster::kCommandVersion;
    topology.nodes[tag] = n;
  }
  CHECK_FALSE(records_delivered(db, topology));  // one node: nobody can take over
  db.topology.members = {"A", "B"};
  CHECK(records_delivered(db, topology));
  db.topology.members = {"A"};
  db.topology.rehabs = {"B"};  // a member out for now comes back and may take over
  CHECK(records_delivered(db, topology));
  topology.nodes["C"].command_version = 10;  // an older node could not apply it
  CHECK_FALSE(records_delivered(db, topology));
}
