#include "tests/sim/scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "tests/sim/cluster.h"

namespace corvus::rachis::sim {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::uint64_t num(const std::vector<std::string>& w, std::size_t i) {
  return i < w.size() ? std::strtoull(w[i].c_str(), nullptr, 10) : 0;
}

class Runner {
 public:
  std::string run(const std::vector<std::string>& commands) {
    for (const std::string& line : commands) {
      out_ += line + "\n";
      std::string trimmed = line.substr(0, line.find('#'));
      auto w = words(trimmed);
      if (w.empty()) continue;
      exec(w);
      if (cluster_) {
        cluster_->check_all();
        if (cluster_->failed() && !reported_) {
          emit("VIOLATION " + cluster_->violation());
          reported_ = true;
        }
      }
    }
    return out_;
  }
  bool ok() const { return ok_ && !reported_; }

 private:
  void emit(const std::string& s) {
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) out_ += "> " + l + "\n";
  }
  void error(const std::string& s) {
    emit("ERROR " + s);
    ok_ = false;
  }

  void ensure_node(NodeId id) {
    while (cluster_->nodes().count(id) == 0) {
      cluster_->add_node(true);
    }
  }

  void exec(const std::vector<std::string>& w) {
    const std::string& cmd = w[0];
    if (cmd == "cluster") {
      SimParams p;
      p.seed = 1;
      p.fixed_timeouts = true;
      p.founding_voters = static_cast<int>(num(w, 1));
      for (std::size_t i = 2; i < w.size(); ++i) {
        auto eq = w[i].find('=');
        std::string k = w[i].substr(0, eq);
        std::uint64_t v = std::strtoull(w[i].c_str() + eq + 1, nullptr, 10);
        if (k == "pre-vote") p.raft.pre_vote = v != 0;
        else if (k == "check-quorum") p.raft.check_quorum = v != 0;
        else if (k == "max-entries") p.raft.max_entries_per_message = v;
        else if (k == "inflight") p.raft.max_inflight = v;
        else if (k == "snapshot-threshold") p.raft.snapshot_threshold = v;
        else error("unknown option " + k);
      }
      if (p.raft.snapshot_threshold == 10000) p.raft.snapshot_threshold = 0;  // explicit compact only
      cluster_ = std::make_unique<Cluster>(p, [this](const std::string& e) {
        emit("[" + std::to_string(cluster_->now()) + "] " + e);
      });
      return;
    }
    if (!cluster_) return error("the first command must be 'cluster'");
    Cluster& c = *cluster_;
    auto node_ok = [&](NodeId id) {
      if (c.nodes().count(id) == 0) {
        error("no node " + std::to_string(id));
        return false;
      }
      return true;
    };
    if (cmd == "timeouts") {
      for (std::size_t i = 1; i < w.size(); ++i) {
        auto eq = w[i].find('=');
        NodeId id = std::strtoull(w[i].c_str(), nullptr, 10);
        if (!node_ok(id)) return;
        c.node(id).rng->set_fixed(std::strtoull(w[i].c_str() + eq + 1, nullptr, 10));
      }
    } else if (cmd == "tick" || cmd == "deliver") {
      std::uint64_t n = w.size() > 1 ? num(w, 1) : 1;
      for (std::uint64_t i = 0; i < n && !c.failed(); ++i) c.step_time(cmd == "tick");
    } else if (cmd == "partition") {
      std::vector<std::set<NodeId>> groups(1);
      for (std::size_t i = 1; i < w.size(); ++i) {
        if (w[i] == "|") {
          groups.emplace_back();
        } else {
          groups.back().insert(std::strtoull(w[i].c_str(), nullptr, 10));
        }
      }
      c.partition(groups);
    } else if (cmd == "heal") {
      c.heal();
    } else if (cmd == "crash" || cmd == "restart" || cmd == "freeze" || cmd == "unfreeze" || cmd == "campaign" ||
               cmd == "compact" || cmd == "log" || cmd == "drop") {
      NodeId id = num(w, 1);
      if (!node_ok(id)) return;
      if (cmd == "crash") c.crash(id);
      if (cmd == "drop") c.drop_in_flight(id);
      if (cmd == "restart") c.restart(id);
      if (cmd == "freeze") c.node(id).frozen = true;
      if (cmd == "unfreeze") c.node(id).frozen = false;
      if (cmd == "campaign") c.campaign(id);
      if (cmd == "compact") emit(c.compact(id) ? "compacted at " + std::to_string(c.node(id).applied) : "nothing to compact");
      if (cmd == "log") {
        if (!c.node(id).up) return emit("down");
        const auto& log = c.node(id).raft->log();
        std::string s = "snap=" + std::to_string(log.snapshot_index()) + "/t" + std::to_string(log.snapshot_term());
        for (Index i = log.first_index(); i <= log.last_index(); ++i) {
          const auto& e = log.at(i);
          std::string what = e.type == core::EntryType::Noop ? "noop"
                             : e.type == core::EntryType::ConfigChange ? "config"
                                                                       : e.data;
          s += " " + std::to_string(i) + "/t" + std::to_string(e.term) + ":" + what;
        }
        emit(s);
      }
    } else if (cmd == "propose") {
      NodeId id = num(w, 1);
      if (!node_ok(id) || w.size() < 3) return;
      auto r = c.propose_raw(id, w[2]);
      emit(r.ok() ? "index " + std::to_string(r.index) + " term " + std::to_string(r.term)
                  : std::string(core::error_name(r.error)));
    } else if (cmd == "put" || cmd == "cas" || cmd == "get") {
      NodeId id = num(w, 1);
      if (!node_ok(id) || w.size() < 3) return;
      std::string err;
      bool ok = cmd == "put"   ? c.client_put(id, w[2], static_cast<std::int64_t>(num(w, 3)), &err)
                : cmd == "cas" ? c.client_cas(id, w[2], static_cast<std::int64_t>(num(w, 3)),
                                              static_cast<std::int64_t>(num(w, 4)), &err)
                               : c.client_get(id, w[2], &err);
      if (!ok) emit("refused: " + err);
    } else if (cmd == "add-learner" || cmd == "promote" || cmd == "remove") {
      NodeId l = num(w, 1), id = num(w, 2);
      if (!node_ok(l)) return;
      if (cmd == "add-learner") ensure_node(id);
      core::ConfigChange cc;
      cc.node = id;
      cc.type = cmd == "add-learner" ? core::ConfigChangeType::AddLearner
                : cmd == "promote"   ? core::ConfigChangeType::PromoteVoter
                                     : core::ConfigChangeType::RemoveNode;
      auto r = c.config_change(l, cc);
      emit(r.ok() ? "index " + std::to_string(r.index) : std::string(core::error_name(r.error)));
    } else if (cmd == "transfer") {
      NodeId l = num(w, 1), id = num(w, 2);
      if (!node_ok(l)) return;
      emit(core::error_name(c.transfer(l, id)));
    } else if (cmd == "status") {
      for (auto& [id, n] : c.nodes()) emit(c.describe_node(id));
    } else if (cmd == "expect-leader") {
      NodeId want = num(w, 1);
      NodeId got = c.leader();
      if (got != want) error("expected leader n" + std::to_string(want) + ", got n" + std::to_string(got));
    } else if (cmd == "expect-commit" || cmd == "expect-applied") {
      NodeId id = num(w, 1);
      if (!node_ok(id)) return;
      if (!c.node(id).up) return error("node is down");
      Index got = cmd == "expect-commit" ? c.node(id).raft->commit_index() : c.node(id).applied;
      if (got != num(w, 2)) error(cmd + ": got " + std::to_string(got));
    } else {
      error("unknown command " + cmd);
    }
  }

  std::unique_ptr<Cluster> cluster_;
  std::string out_;
  bool ok_ = true;
  bool reported_ = false;
};

}  // namespace

int run_scenarios(const std::string& dir, bool rewrite, const std::string& only, bool verbose) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int failures = 0;
  for (auto& f : files) {
    if (!only.empty() && f.stem().string() != only) continue;
    std::ifstream in(f);
    std::stringstream buf;
    buf << in.rdbuf();
    std::string original = buf.str();
    std::vector<std::string> commands;
    std::istringstream lines(original);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(">", 0) != 0) commands.push_back(line);
    }
    Runner r;
    std::string got = r.run(commands);
    if (verbose) std::printf("%s", got.c_str());
    bool same = got == original;
    if (rewrite && !same) {
      std::ofstream(f) << got;
      std::printf("rewrote %s\n", f.filename().c_str());
    } else if (!same) {
      std::istringstream a(original), b(got);
      std::string la, lb;
      int n = 0;
      while (true) {
        ++n;
        bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
        if (ea && eb) break;
        if (ea || eb || la != lb) {
          std::printf("%s: transcript differs at line %d\n  expected: %s\n  got:      %s\n", f.filename().c_str(), n,
                      ea ? "<eof>" : la.c_str(), eb ? "<eof>" : lb.c_str());
          break;
        }
      }
      ++failures;
    }
    if (!r.ok()) {
      std::printf("%s: scenario reported an error or violation\n", f.filename().c_str());
      ++failures;
    } else if (same || rewrite) {
      std::printf("%s: ok\n", f.filename().c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace corvus::rachis::sim
