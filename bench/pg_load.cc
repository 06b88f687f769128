// corvus-pg-load: the PostgreSQL side of the benchmark, measured the same way as
// corvus-http-load: N client threads, each with its own connection and one statement
// outstanding, same ids and same 1 KB JSON documents, same result line.
//
// Table: docs(id text primary key, body jsonb). Every session runs with
// synchronous_commit = on (checked), so an upsert returns only once its commit is
// flushed to the WAL on disk: the durability the corvusd PUT promises.
//
// Modes:
//   put      INSERT .. ON CONFLICT (id) DO UPDATE of bench/<tag><conn>-<seq>, autocommit
//   preload  the same for bench/<tag>g-0 .. g-<ids-1>, 100 rows per transaction
//   get      SELECT body FROM docs WHERE id = bench/<tag>g-<random i < ids>
//   query-eq     SELECT id, body FROM users WHERE body->>'City' = $1 LIMIT 100
//   query-range  SELECT id, body FROM users WHERE (body->>'Score')::float8 BETWEEN $1 AND $2
//                LIMIT 100 ($2 = $1 + --range-width)
//   query-sorted SELECT id, body FROM users ORDER BY (body->>'Score')::float8 DESC
//                LIMIT 100 OFFSET $1, a random offset below 1000
//            on the Users data set of bench/users_dataset.h (table users(id, body jsonb),
//            loaded and indexed by bench/query_bench.sh), with the same random
//            parameters as corvus-http-load's query modes (as there, an answer with
//            no row counts: a range may be empty); the mean row count is reported.
// All statements are prepared.

#include <libpq-fe.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "bench/bench_common.h"
#include "bench/users_dataset.h"

namespace cb = corvus::bench;

namespace {

struct Options {
  std::string conninfo = "host=127.0.0.1 dbname=bench";
  std::string mode = "put";
  int clients = 1;
  double seconds = 10;
  double warmup = 0;
  uint64_t requests = 0;
  uint64_t ids = 10000;
  std::string tag;
  size_t doc_size = 1024;
  bool setup = true;
  uint64_t cities = 10000;   // query modes
  double range_width = 100;  // query-range
  uint64_t limit = 100;      // query modes
  bool query_mode() const { return mode == "query-eq" || mode == "query-range" || mode == "query-sorted"; }
};

constexpr const char* kUpsert =
    "INSERT INTO docs (id, body) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body";
constexpr const char* kGet = "SELECT body FROM docs WHERE id = $1";

struct Stats {
  std::vector<uint32_t> lat;
  uint64_t rows = 0;  // query modes: rows returned in the window
  uint64_t errors = 0;
  std::string first_error;
  cb::Clock::time_point last_done{};
};

std::mutex g_err_mu;
std::string g_fatal;

void fatal(const std::string& msg) {
  std::lock_guard<std::mutex> lock(g_err_mu);
  if (g_fatal.empty()) g_fatal = msg;
}

bool exec_ok(PGconn* c, const char* sql, std::string* err) {
  PGresult* r = PQexec(c, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok && err) *err = std::string(sql) + ": " + PQerrorMessage(c);
  PQclear(r);
  return ok;
}

std::string show(PGconn* c, const char* setting) {
  std::string sql = std::string("SHOW ") + setting;
  PGresult* r = PQexec(c, sql.c_str());
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?";
  PQclear(r);
  return v;
}

PGconn* open_session(const Options& o, std::string* err) {
  PGconn* c = PQconnectdb(o.conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    *err = std::string("connect: ") + PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
  }
  if (!exec_ok(c, "SET synchronous_commit = on", err)) {
    PQfinish(c);
    return nullptr;
  }
  if (show(c, "synchronous_commit") != "on") {
    *err = "synchronous_commit is not on";
    PQfinish(c);
    return nullptr;
  }
  auto prepare = [c](const char* name, const std::string& sql, int params) {
    PGresult* r = PQprepare(c, name, sql.c_str(), params, nullptr);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  };
  const std::string limit = " LIMIT " + std::to_string(o.limit);
  bool ok = o.query_mode()
                ? prepare("query-eq", "SELECT id, body FROM users WHERE body->>'City' = $1" + limit, 1) &&
                      prepare("query-range",
                              "SELECT id, body FROM users WHERE (body->>'Score')::float8 BETWEEN $1 AND $2" + limit, 2) &&
                      prepare("query-sorted",
                              "SELECT id, body FROM users ORDER BY (body->>'Score')::float8 DESC" + limit + " OFFSET $1",
                              1)
                : prepare("upsert", kUpsert, 2) && prepare("get", kGet, 1);
  if (!ok) {
    *err = std::string("prepare: ") + PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
  }
  return c;
}

struct Run {
  Options opt;
  bool count_mode = false;
  cb::Clock::time_point t_start, t_measure, t_end;
  std::atomic<uint64_t> next_ticket{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> abort{false};  // a client could not connect: end at once
};

void client(Run& run, int conn_id, Stats& st) {
  const Options& o = run.opt;
  std::string err;
  PGconn* c = open_session(o, &err);
  if (!c) {
    fatal(err);
    run.abort = true;
    run.ready.fetch_add(1);
    return;
  }
  run.ready.fetch_add(1);
  while (!run.go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::mt19937_64 rng(0x5eed0000ull + static_cast<uint64_t>(conn_id));
  uint64_t seq = 0;
  const bool preload = o.mode == "preload";
  int in_txn = 0;  // preload: rows in the open transaction
  for (;;) {
    if (run.abort.load(std::memory_order_relaxed)) break;
    uint64_t ticket = 0;
    if (run.count_mode) {
      ticket = run.next_ticket.fetch_add(1, std::memory_order_relaxed);
      if (ticket >= o.requests) break;
    } else if (cb::Clock::now() >= run.t_end) {
      break;
    }
    std::string id;
    std::string body;
    cb::users::QueryParams qp;
    if (o.query_mode()) {
      qp = cb::users::random_params(rng, o.cities, static_cast<uint64_t>(o.range_width * 1000 + 0.5));
    } else if (o.mode == "get") {
      id = cb::get_id(o.tag, std::uniform_int_distribution<uint64_t>(0, o.ids - 1)(rng));
    } else {
      if (o.mode == "overwrite") {
        id = cb::get_id(o.tag, std::uniform_int_distribution<uint64_t>(0, o.ids - 1)(rng));
      } else {
        id = preload ? cb::get_id(o.tag, ticket) : cb::put_id(o.tag, conn_id, seq);
      }
      body = cb::make_doc(id, seq, o.doc_size);
    }
    ++seq;
    if (preload && in_txn == 0 && !exec_ok(c, "BEGIN", &err)) {
      fatal(err);
      break;
    }
    auto t0 = cb::Clock::now();
    uint64_t rows = 0;  // query modes
    PGresult* r;
    bool ok;
    if (o.query_mode()) {
      const bool one = o.mode != "query-range";
      const char* params[2] = {o.mode == "query-eq"       ? qp.city.c_str()
                               : o.mode == "query-sorted" ? qp.offset.c_str()
                                                          : qp.low.c_str(),
                               qp.high.c_str()};
      r = PQexecPrepared(c, o.mode.c_str(), one ? 1 : 2, params, nullptr, nullptr, 0);
      ok = PQresultStatus(r) == PGRES_TUPLES_OK;
      if (ok) rows = static_cast<uint64_t>(PQntuples(r));
    } else if (o.mode == "get") {
      const char* params[1] = {id.c_str()};
      r = PQexecPrepared(c, "get", 1, params, nullptr, nullptr, 0);
      ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
           PQgetlength(r, 0, 0) > 0;
    } else {
      const char* params[2] = {id.c_str(), body.c_str()};
      r = PQexecPrepared(c, "upsert", 2, params, nullptr, nullptr, 0);
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    }
    auto now = cb::Clock::now();
    if (!ok && st.first_error.empty()) {
      st.first_error = PQresultStatus(r) == PGRES_TUPLES_OK ? "no row for id " + id
                                                            : std::string(PQerrorMessage(c));
    }
    PQclear(r);
    if (preload && ++in_txn == 100) {
      in_txn = 0;
      if (!exec_ok(c, "COMMIT", &err)) {
        fatal(err);
        break;
      }
    }
    if (now > st.last_done) st.last_done = now;
    bool counted = run.count_mode || (now >= run.t_measure && now <= run.t_end);
    if (!counted) continue;
    if (ok) {
      st.lat.push_back(cb::micros_since(t0, now));
      st.rows += rows;
    } else {
      ++st.errors;
    }
    if (PQstatus(c) != CONNECTION_OK) {
      fatal(std::string("connection lost: ") + PQerrorMessage(c));
      break;
    }
  }
  if (preload && in_txn > 0 && !exec_ok(c, "COMMIT", &err)) fatal(err);
  if (preload) st.last_done = cb::Clock::now();
  PQfinish(c);
}

void usage() {
  std::cerr <<
      R"(usage: corvus-pg-load --conninfo "host=127.0.0.1 port=P dbname=bench user=postgres" [options]
  --mode M          put | overwrite | get | preload (default put); overwrite upserts
                    existing rows bench/<tag>g-<random i < ids>
  --clients N       threads, each with its own connection (default 1)
  --seconds S       measured duration (default 10)
  --warmup S        unmeasured time before the window (default 0)
  --requests N      run N statements in total instead of a duration (preload: = --ids)
  --ids N           get/overwrite/preload key space bench/<tag>g-0..N-1 (default 10000)
  --tag T           id prefix after "bench/" (default empty)
  --doc-size B      JSON document size (default 1024)
  --setup 0|1       CREATE TABLE IF NOT EXISTS docs(id text primary key, body jsonb) (default 1;
                    never in the query modes)
  --mode query-eq | query-range | query-sorted: the Users table's queries (see the top of pg_load.cc), with
  --cities N        cities in the data set (default 10000)
  --range-width W   query-range: Score interval width (default 100)
  --limit N         LIMIT of the queries (default 100)
Prints: mode=.. clients=.. requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. errors=.. ...
)";
}

}  // namespace

int main(int argc, char** argv) {
  cb::Args args(argc, argv);
  Run run;
  Options& o = run.opt;
  o.conninfo = args.str("conninfo", o.conninfo);
  o.mode = args.str("mode", o.mode);
  o.clients = static_cast<int>(args.num("clients", o.clients));
  o.seconds = args.num("seconds", o.seconds);
  o.warmup = args.num("warmup", o.warmup);
  o.requests = static_cast<uint64_t>(args.num("requests", 0));
  o.ids = static_cast<uint64_t>(args.num("ids", static_cast<double>(o.ids)));
  o.tag = args.str("tag", o.tag);
  o.doc_size = static_cast<size_t>(args.num("doc-size", static_cast<double>(o.doc_size)));
  o.setup = args.num("setup", 1) != 0;
  o.cities = static_cast<uint64_t>(args.num("cities", static_cast<double>(o.cities)));
  o.range_width = args.num("range-width", o.range_width);
  o.limit = static_cast<uint64_t>(args.num("limit", static_cast<double>(o.limit)));
  std::string err = args.bad().empty() ? args.unknown() : args.bad();
  if (args.help()) {
    usage();
    return 0;
  }
  if (err.empty() && o.mode != "put" && o.mode != "overwrite" && o.mode != "get" && o.mode != "preload" &&
      !o.query_mode())
    err = "--mode must be put, overwrite, get, preload, query-eq, query-range or query-sorted";
  if (err.empty() && o.cities < 1) err = "--cities must be >= 1";
  if (err.empty() && !(o.range_width >= 0 && o.range_width < 1e6)) err = "--range-width must be in [0, 1e6)";
  if (err.empty() && (o.clients < 1 || o.clients > 1000)) err = "--clients must be 1..1000";
  if (err.empty() && o.ids < 1) err = "--ids must be >= 1";
  if (err.empty() && o.seconds <= 0 && o.requests == 0) err = "--seconds must be > 0";
  if (!err.empty()) {
    std::cerr << "corvus-pg-load: " << err << "\n";
    usage();
    return 2;
  }
  if (o.mode == "preload" && o.requests == 0) o.requests = o.ids;
  run.count_mode = o.requests > 0;
  if (run.count_mode) o.warmup = 0;

  {
    PGconn* c = PQconnectdb(o.conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::cerr << "corvus-pg-load: connect: " << PQerrorMessage(c);
      PQfinish(c);
      return 1;
    }
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
    if (o.setup && !o.query_mode() &&
        !exec_ok(c, "CREATE TABLE IF NOT EXISTS docs (id text PRIMARY KEY, body jsonb NOT NULL)", &err)) {
      std::cerr << "corvus-pg-load: " << err;
      PQfinish(c);
      return 1;
    }
    std::cerr << "corvus-pg-load: server " << show(c, "server_version") << ", fsync=" << show(c, "fsync")
              << ", wal_sync_method=" << show(c, "wal_sync_method") << "\n";
    PQfinish(c);
  }

  std::vector<Stats> stats(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back(client, std::ref(run), i, std::ref(stats[static_cast<size_t>(i)]));
  // Connect everyone first, so connection setup is not measured.
  while (run.ready.load() < o.clients) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto dur = [](double s) {
    return std::chrono::duration_cast<cb::Clock::duration>(std::chrono::duration<double>(s));
  };
  run.t_start = cb::Clock::now();
  run.t_measure = run.t_start + dur(o.warmup);
  run.t_end = run.count_mode ? cb::Clock::time_point::max() : run.t_measure + dur(o.seconds);
  run.go = true;
  for (auto& t : threads) t.join();
  if (!g_fatal.empty()) {
    std::cerr << "corvus-pg-load: " << g_fatal << "\n";
    return 1;
  }

  std::vector<uint32_t> lat;
  uint64_t errors = 0;
  std::string first_error;
  uint64_t rows = 0;
  cb::Clock::time_point last_done = run.t_start;
  for (auto& s : stats) {
    rows += s.rows;
    lat.insert(lat.end(), s.lat.begin(), s.lat.end());
    errors += s.errors;
    if (first_error.empty()) first_error = s.first_error;
    last_done = std::max(last_done, s.last_done);
  }
  double seconds = run.count_mode ? std::chrono::duration<double>(last_done - run.t_start).count()
                                  : o.seconds;
  cb::Summary s = cb::summarize(lat, errors, seconds);
  if (errors > 0) std::cerr << "corvus-pg-load: " << errors << " errors; first: " << first_error << "\n";
  std::string extra = "target=pg";
  if (o.query_mode() && s.requests > 0) extra += " mean_rows=" + std::to_string(rows / s.requests);
  cb::print_result(o.mode, o.clients, s, extra);
  return 0;
}
