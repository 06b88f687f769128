// Data subscriptions against a real corvusd over its raw TCP protocol (what
// the official clients' SubscriptionWorker speaks): the header negotiation
// (bad headers, unknown operations and versions), unknown subscriptions and
// databases, a query that does not parse (400, nothing stored), a batch that
// is redelivered until acknowledged, resuming after a reconnect, and a kill -9
// of corvusd while a worker consumes a backlog: no document skipped, the
// duplicates bounded by one batch. The npm client's side is
// tests/compat/subscriptions.test.mjs.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/single_node_db.h"

using namespace corvus::testing;
namespace json = boost::json;

namespace {

constexpr auto kWait = std::chrono::seconds(10);

// A raw TCP client reading concatenated JSON values; every wait is bounded.
class TcpJsonClient {
 public:
  explicit TcpJsonClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~TcpJsonClient() { ::close(fd_); }
  TcpJsonClient(const TcpJsonClient&) = delete;
  TcpJsonClient& operator=(const TcpJsonClient&) = delete;

  void send(const json::value& v) {
    const std::string text = json::serialize(v);
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
  }
  void send_raw(const std::string& text) { ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL); }

  // The next JSON value; nullopt when the server closed the connection or
  // nothing came within kWait (then `timed_out`).
  std::optional<json::value> read() {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    for (;;) {
      std::size_t skip = 0;
      if (!in_value_) {
        while (skip < pending_.size() && std::isspace(static_cast<unsigned char>(pending_[skip]))) ++skip;
      }
      if (skip < pending_.size()) {
        boost::system::error_code ec;
        const std::size_t used = parser_.write_some(pending_.data() + skip, pending_.size() - skip, ec);
        REQUIRE_MESSAGE(!ec, "not JSON from the server: " << pending_);
        pending_.erase(0, skip + used);
        in_value_ = true;
        if (parser_.done()) {
          in_value_ = false;
          json::value v = parser_.release();
          parser_.reset();
          return v;
        }
      } else {
        pending_.clear();
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        return std::nullopt;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return std::nullopt;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  bool timed_out = false;

 private:
  int fd_ = -1;
  json::stream_parser parser_;
  std::string pending_;
  bool in_value_ = false;
};

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  REQUIRE_MESSAGE((!ec && v.is_object()), body);
  return v.as_object();
}

uint16_t tcp_port(SingleNodeDb& db) {
  auto r = db.client.request("GET", "/info/tcp");
  REQUIRE(r.status == 200);
  const std::string url(parse_object(r.body).at("Url").as_string());
  REQUIRE(url.starts_with("tcp://127.0.0.1:"));
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

json::object header(const std::string& database, const std::string& operation, int64_t version) {
  return {{"DatabaseName", database}, {"Operation", operation}, {"SourceNodeTag", nullptr}, {"OperationVersion", version},
          {"AuthorizeInfo", nullptr}, {"LicensedFeatures", json::object{{"DataCompression", false}}}};
}

std::string str(const json::value& v, const char* key) {
  const auto* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

void put_users(SingleNodeDb& db, int from, int to, const std::string& collection = "Users") {
  for (int i = from; i < to; ++i) {
    auto r = db.client.request("PUT", "/databases/db/docs?id=users/" + std::to_string(i),
                               R"({"N":)" + std::to_string(i) + R"(,"@metadata":{"@collection":")" + collection + R"("}})");
    REQUIRE(r.status == 201);
  }
}

void create_subscription(SingleNodeDb& db, const std::string& name, const std::string& query) {
  auto r = db.client.request("PUT", "/databases/db/subscriptions",
                             json::serialize(json::object{{"Name", name}, {"Query", query}}));
  REQUIRE_MESSAGE(r.status == 201, r.body);
}

// A worker connection that negotiated 53000 and sent its options; returns
// the server's ConnectionStatus (or Error) message.
json::value open_worker(TcpJsonClient& c, const std::string& database, const std::string& name, int max_docs,
                        const std::string& strategy = "OpenIfFree") {
  c.send(header(database, "Subscription", 53000));
  auto reply = c.read();
  REQUIRE(reply);
  CHECK(str(*reply, "Status") == "Ok");
  c.send(json::object{{"SubscriptionName", name}, {"Strategy", strategy}, {"MaxDocsPerBatch", max_docs}});
  auto status = c.read();
  REQUIRE(status);
  return *status;
}

// The ids of one batch (Data messages up to EndOfBatch); empty when the
// connection ended or nothing came.
std::vector<std::string> read_batch(TcpJsonClient& c) {
  std::vector<std::string> ids;
  for (;;) {
    auto m = c.read();
    if (!m) return {};
    const std::string type = str(*m, "Type");
    if (type == "EndOfBatch") return ids;
    REQUIRE_MESSAGE(type == "Data", json::serialize(*m));
    ids.emplace_back(m->as_object().at("Data").at("@metadata").at("@id").as_string());
  }
}

bool acknowledge(TcpJsonClient& c) {
  c.send(json::object{{"ChangeVector", nullptr}, {"Type", "Acknowledge"}});
  auto confirm = c.read();
  return confirm && str(*confirm, "Type") == "Confirm";
}

}  // namespace

TEST_CASE("subscriptions tcp: negotiation answers versions it has, refuses bad headers and unknown operations") {
  SingleNodeDb db;
  const uint16_t port = tcp_port(db);
  {
    TcpJsonClient c(port);
    c.send_raw(R"({"DatabaseName":"db","OperationVersion":53000})");  // no Operation
    auto reply = c.read();
    REQUIRE(reply);
    CHECK(str(*reply, "Status") == "TcpVersionMismatch");
    CHECK(reply->at("Version").to_number<int64_t>() == -1);
    CHECK(!c.read());  // and closed
    CHECK(!c.timed_out);
  }
  {
    TcpJsonClient c(port);
    c.send_raw("[1,2,");  // not a header, then nothing
    c.send_raw("3]");
    auto reply = c.read();
    REQUIRE(reply);
    CHECK(str(*reply, "Status") == "TcpVersionMismatch");
    CHECK(!c.read());
  }
  {
    TcpJsonClient c(port);
    c.send(header("db", "Replication", 53000));
    auto reply = c.read();
    REQUIRE(reply);
    CHECK(str(*reply, "Status") == "TcpVersionMismatch");
    CHECK(reply->at("Version").to_number<int64_t>() == -1);
    CHECK(str(*reply, "Message").find("Replication") != std::string::npos);
  }
  {
    // A newer client is offered our newest version, then agrees on it.
    TcpJsonClient c(port);
    c.send(header("db", "Subscription", 60000));
    auto reply = c.read();
    REQUIRE(reply);
    CHECK(str(*reply, "Status") == "TcpVersionMismatch");
    CHECK(reply->at("Version").to_number<int64_t>() == 53000);
    c.send(header("db", "Subscription", 53000));
    reply = c.read();
    REQUIRE(reply);
    CHECK(str(*reply, "Status") == "Ok");
    CHECK(reply->at("Version").to_number<int64_t>() == 53000);
    CHECK(reply->at("LicensedFeatures").at("DataCompression").as_bool() == false);
  }
  {
    // Between two versions: the one below. Below all of them: out of range.
    TcpJsonClient c(port);
    c.send(header("db", "Subscription", 45000));
    auto reply = c.read();
    REQUIRE(reply);
    CHECK(reply->at("Version").to_number<int64_t>() == 41400);
    c.send(header("db", "Subscription", 10));
    reply = c.read();
    REQUIRE(reply);
    CHECK(reply->at("Version").to_number<int64_t>() == -1);
  }
}

TEST_CASE("subscriptions: a query that does not parse is refused and nothing is stored; unknown names and databases") {
  SingleNodeDb db;
  for (const char* query : {"from Users where", "from index 'Orders/ByCompany'", "from Users order by N",
                            "from Users select N", "from Users where N = $missing"}) {
    auto r = db.client.request("PUT", "/databases/db/subscriptions",
                               json::serialize(json::object{{"Name", "bad"}, {"Query", query}}));
    CHECK_MESSAGE(r.status == 400, query << ": " << r.body);
  }
  auto bad_cv = db.client.request("PUT", "/databases/db/subscriptions",
                                  R"({"Name":"bad","Query":"from Users","ChangeVector":"not a change vector"})");
  CHECK(bad_cv.status == 400);
  auto list = db.client.request("GET", "/databases/db/subscriptions?start=0&pageSize=10");
  REQUIRE(list.status == 200);
  CHECK(parse_object(list.body).at("Results").as_array().empty());
  CHECK(db.client.request("GET", "/databases/db/subscriptions/state?name=bad").status == 500);

  create_subscription(db, "s1", "from Users");
  CHECK(db.client.request("PUT", "/databases/db/subscriptions", R"({"Name":"s1","Query":"from Orders"})").status == 400);
  auto state = db.client.request("GET", "/databases/db/subscriptions/state?name=S1");
  REQUIRE(state.status == 200);
  CHECK(parse_object(state.body).at("Query").as_string() == "from Users");

  const uint16_t port = tcp_port(db);
  {
    TcpJsonClient c(port);
    auto status = open_worker(c, "db", "nope", 10);
    CHECK(str(status, "Type") == "ConnectionStatus");
    CHECK(str(status, "Status") == "NotFound");
  }
  {
    TcpJsonClient c(port);
    auto status = open_worker(c, "no_such_db", "s1", 10);
    CHECK(str(status, "Type") == "Error");
    CHECK(str(status, "Exception").find("DatabaseDoesNotExistException") != std::string::npos);
  }
  {
    TcpJsonClient c(port);
    auto first = open_worker(c, "db", "s1", 10);
    CHECK(str(first, "Status") == "Accepted");
    TcpJsonClient second(port);
    auto refused = open_worker(second, "db", "s1", 10);
    CHECK(str(refused, "Status") == "InUse");
  }
}

TEST_CASE("subscriptions tcp: a batch is redelivered until acknowledged; a reconnect resumes after the acknowledged one") {
  SingleNodeDb db;
  put_users(db, 0, 6);
  put_users(db, 100, 102, "Orders");  // other collection: never delivered
  put_users(db, 6, 10);
  create_subscription(db, "s", "from Users where N >= 2");
  const uint16_t port = tcp_port(db);
  {
    TcpJsonClient c(port);
    REQUIRE(str(open_worker(c, "db", "s", 3), "Status") == "Accepted");
    CHECK(read_batch(c) == std::vector<std::string>{"users/2", "users/3", "users/4"});
    // Gone without acknowledging.
  }
  // A reconnecting worker waits for the server to see the previous connection
  // gone (WaitForFree): under load the close can reach it after the new open,
  // and OpenIfFree would then be told InUse (seen once under the full ctest).
  {
    TcpJsonClient c(port);
    REQUIRE(str(open_worker(c, "db", "s", 3, "WaitForFree"), "Status") == "Accepted");
    CHECK(read_batch(c) == std::vector<std::string>{"users/2", "users/3", "users/4"});
    REQUIRE(acknowledge(c));
    CHECK(read_batch(c) == std::vector<std::string>{"users/5", "users/6", "users/7"});
    REQUIRE(acknowledge(c));
    CHECK(read_batch(c) == std::vector<std::string>{"users/8", "users/9"});
  }
  auto state = parse_object(db.client.request("GET", "/databases/db/subscriptions/state?name=s").body);
  CHECK(state.at("ChangeVectorForNextBatchStartingPoint").is_string());
  {
    TcpJsonClient c(port);
    REQUIRE(str(open_worker(c, "db", "s", 3, "WaitForFree"), "Status") == "Accepted");
    CHECK(read_batch(c) == std::vector<std::string>{"users/8", "users/9"});
    REQUIRE(acknowledge(c));
    // Idle: heartbeats only, until a new matching document arrives.
    put_users(db, 10, 11);
    CHECK(read_batch(c) == std::vector<std::string>{"users/10"});
  }
}

TEST_CASE("subscriptions tcp: kill -9 of corvusd while a worker consumes: nothing skipped, duplicates bounded") {
  SingleNodeDb db;
  constexpr int kDocs = 400;
  constexpr int kBatch = 20;
  put_users(db, 0, kDocs);
  create_subscription(db, "s", "from Users");
  std::vector<std::string> seen;
  {
    TcpJsonClient c(tcp_port(db));
    REQUIRE(str(open_worker(c, "db", "s", kBatch), "Status") == "Accepted");
    while (seen.size() < 100) {
      auto ids = read_batch(c);
      REQUIRE(ids.size() == kBatch);
      seen.insert(seen.end(), ids.begin(), ids.end());
      REQUIRE(acknowledge(c));
    }
    // One more batch delivered but not acknowledged when the server dies.
    auto ids = read_batch(c);
    seen.insert(seen.end(), ids.begin(), ids.end());
    db.server.kill9();
  }
  REQUIRE(db.server.start());
  {
    TcpJsonClient c(tcp_port(db));
    REQUIRE(str(open_worker(c, "db", "s", kBatch), "Status") == "Accepted");
    while (std::set<std::string>(seen.begin(), seen.end()).size() < kDocs) {
      auto ids = read_batch(c);
      REQUIRE(!ids.empty());
      seen.insert(seen.end(), ids.begin(), ids.end());
      REQUIRE(acknowledge(c));
    }
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(unique.size() == kDocs);
  const auto duplicates = seen.size() - unique.size();
  MESSAGE("duplicates after kill -9: " << duplicates << " of " << kDocs);
  CHECK(duplicates <= kBatch);  // the unacknowledged batch, redelivered
}

TEST_CASE("subscriptions tcp: Concurrent workers share a subscription without getting a document at once") {
  SingleNodeDb db;
  put_users(db, 0, 40);
  create_subscription(db, "s", "from Users");
  const uint16_t port = tcp_port(db);
  std::vector<std::string> seen;
  {
    TcpJsonClient a(port);
    REQUIRE(str(open_worker(a, "db", "s", 10, "Concurrent"), "Status") == "Accepted");
    TcpJsonClient b(port);
    REQUIRE(str(open_worker(b, "db", "s", 10, "Concurrent"), "Status") == "Accepted");
    // A non-concurrent worker is refused while they are connected.
    {
      TcpJsonClient c(port);
      CHECK(str(open_worker(c, "db", "s", 10, "OpenIfFree"), "Status") == "InUse");
    }
    auto batch_a = read_batch(a);
    auto batch_b = read_batch(b);
    REQUIRE(batch_a.size() == 10);
    REQUIRE(batch_b.size() == 10);
    std::set<std::string> both(batch_a.begin(), batch_a.end());
    both.insert(batch_b.begin(), batch_b.end());
    CHECK(both.size() == 20);  // disjoint
    // b acknowledges; a leaves without acknowledging: its batch goes to b.
    REQUIRE(acknowledge(b));
    seen.insert(seen.end(), batch_b.begin(), batch_b.end());
  }
  {
    TcpJsonClient b(port);
    REQUIRE(str(open_worker(b, "db", "s", 100, "Concurrent"), "Status") == "Accepted");
    while (std::set<std::string>(seen.begin(), seen.end()).size() < 40) {
      auto ids = read_batch(b);
      REQUIRE(!ids.empty());
      seen.insert(seen.end(), ids.begin(), ids.end());
      REQUIRE(acknowledge(b));
    }
  }
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 40);
}

TEST_CASE("subscriptions tcp: with two Concurrent workers, one leaving unacknowledged: its batch goes to the other") {
  SingleNodeDb db;
  put_users(db, 0, 30);
  create_subscription(db, "s", "from Users");
  const uint16_t port = tcp_port(db);
  TcpJsonClient b(port);
  REQUIRE(str(open_worker(b, "db", "s", 10, "Concurrent"), "Status") == "Accepted");
  std::vector<std::string> got_a;
  {
    TcpJsonClient a(port);
    REQUIRE(str(open_worker(a, "db", "s", 10, "Concurrent"), "Status") == "Accepted");
    got_a = read_batch(a);
    REQUIRE(got_a.size() == 10);
  }  // a is gone without acknowledging
  std::vector<std::string> got_b;
  while (std::set<std::string>(got_b.begin(), got_b.end()).size() < 30) {
    auto ids = read_batch(b);
    REQUIRE(!ids.empty());
    got_b.insert(got_b.end(), ids.begin(), ids.end());
    REQUIRE(acknowledge(b));
  }
  std::set<std::string> unique(got_b.begin(), got_b.end());
  for (const auto& id : got_a) CHECK(unique.count(id) == 1);
  // Everything acknowledged: the recorded position is past the last document.
  auto state = parse_object(db.client.request("GET", "/databases/db/subscriptions/state?name=s").body);
  CHECK(state.at("ChangeVectorForNextBatchStartingPoint").is_string());
}

TEST_CASE("subscriptions tcp: WaitForFree waits for the connected worker; TakeOver replaces it") {
  SingleNodeDb db;
  put_users(db, 0, 5);
  create_subscription(db, "s", "from Users");
  const uint16_t port = tcp_port(db);
  auto first = std::make_unique<TcpJsonClient>(port);
  REQUIRE(str(open_worker(*first, "db", "s", 10), "Status") == "Accepted");
  REQUIRE(read_batch(*first).size() == 5);

  // The waiting worker gets only heartbeats (whitespace) until the first leaves.
  TcpJsonClient waiting(port);
  waiting.send(header("db", "Subscription", 53000));
  REQUIRE(waiting.read());
  waiting.send(json::object{{"SubscriptionName", "s"}, {"Strategy", "WaitForFree"}, {"MaxDocsPerBatch", 10}});
  first.reset();  // gone without acknowledging
  auto status = waiting.read();
  REQUIRE(status);
  CHECK(str(*status, "Status") == "Accepted");
  CHECK(read_batch(waiting).size() == 5);  // the unacknowledged batch again
  REQUIRE(acknowledge(waiting));

  // TakeOver: the connected worker is told InUse, the new one continues.
  TcpJsonClient taker(port);
  CHECK(str(open_worker(taker, "db", "s", 10, "TakeOver"), "Status") == "Accepted");
  for (;;) {
    auto m = waiting.read();
    REQUIRE(m);
    if (str(*m, "Type") == "ConnectionStatus") {
      CHECK(str(*m, "Status") == "InUse");
      break;
    }
  }
  put_users(db, 5, 6);
  CHECK(read_batch(taker) == std::vector<std::string>{"users/5"});
}

TEST_CASE("subscriptions tcp: deleting the database ends its workers with DatabaseDoesNotExist, and its subscriptions") {
  SingleNodeDb db;
  put_users(db, 0, 2);
  create_subscription(db, "s", "from Users");
  TcpJsonClient idle(tcp_port(db));
  REQUIRE(str(open_worker(idle, "db", "s", 10), "Status") == "Accepted");
  REQUIRE(read_batch(idle).size() == 2);
  REQUIRE(acknowledge(idle));
  auto r = db.client.request("DELETE", "/admin/databases", R"({"DatabaseNames":["db"],"HardDelete":true})");
  REQUIRE(r.status == 200);
  std::optional<json::value> m;
  do {
    m = idle.read();
  } while (m && str(*m, "Type") != "Error");
  REQUIRE(m);
  CHECK(str(*m, "Exception").find("DatabaseDoesNotExistException") != std::string::npos);
  // Created again: no subscription survives from before.
  REQUIRE(db.client.request("PUT", "/admin/databases", R"({"DatabaseName":"db"})").status == 201);
  auto list = db.client.request("GET", "/databases/db/subscriptions?start=0&pageSize=10");
  REQUIRE(list.status == 200);
  CHECK(parse_object(list.body).at("Results").as_array().empty());
}
