#include "rachis/core/types.h"

#include <charconv>
#include <cstdio>

namespace corvus::rachis::core {

namespace {

void append_ids(std::string* out, const std::set<NodeId>& ids) {
  bool first = true;
  for (NodeId id : ids) {
    if (!first) out->push_back(',');
    first = false;
    out->append(std::to_string(id));
  }
}

bool parse_ids(std::string_view s, std::set<NodeId>* out) {
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    NodeId id = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (ec != std::errc() || p != item.data() + item.size() || id == kNoNode) return false;
    out->insert(id);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return true;
}

}  // namespace

// Format: "V<id>,<id>...;L<id>,..." — human readable, and entries are small.
std::string encode_configuration(const Configuration& c) {
  std::string out = "V";
  append_ids(&out, c.voters);
  out.append(";L");
  append_ids(&out, c.learners);
  return out;
}

std::optional<Configuration> decode_configuration(const std::string& bytes) {
  std::string_view s = bytes;
  auto semi = s.find(";L");
  if (s.empty() || s[0] != 'V' || semi == std::string_view::npos) return std::nullopt;
  Configuration c;
  if (!parse_ids(s.substr(1, semi - 1), &c.voters)) return std::nullopt;
  if (!parse_ids(s.substr(semi + 2), &c.learners)) return std::nullopt;
  return c;
}

// Format: "<type digit>|<node>|<configuration>|<context...>".
std::string encode_config_change(const ConfigChange& change, const Configuration& result) {
  std::string out;
  out.push_back(static_cast<char>('0' + static_cast<int>(change.type)));
  out.push_back('|');
  out.append(std::to_string(change.node));
  out.push_back('|');
  out.append(encode_configuration(result));
  out.push_back('|');
  out.append(change.context);
  return out;
}

bool decode_config_change(const std::string& bytes, ConfigChange* change, Configuration* result) {
  std::string_view s = bytes;
  if (s.size() < 2 || s[1] != '|' || s[0] < '0' || s[0] > '2') return false;
  auto type = static_cast<ConfigChangeType>(s[0] - '0');
  s.remove_prefix(2);
  auto bar = s.find('|');
  if (bar == std::string_view::npos) return false;
  NodeId node = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + bar, node);
  if (ec != std::errc() || p != s.data() + bar) return false;
  s.remove_prefix(bar + 1);
  bar = s.find('|');
  if (bar == std::string_view::npos) return false;
  auto cfg = decode_configuration(std::string(s.substr(0, bar)));
  if (!cfg) return false;
  if (change) {
    change->type = type;
    change->node = node;
    change->context = std::string(s.substr(bar + 1));
  }
  if (result) *result = std::move(*cfg);
  return true;
}

const char* message_type_name(MessageType t) {
  switch (t) {
    case MessageType::PreVote: return "PreVote";
    case MessageType::PreVoteResponse: return "PreVoteResp";
    case MessageType::Vote: return "Vote";
    case MessageType::VoteResponse: return "VoteResp";
    case MessageType::Append: return "Append";
    case MessageType::AppendResponse: return "AppendResp";
    case MessageType::Heartbeat: return "Heartbeat";
    case MessageType::HeartbeatResponse: return "HeartbeatResp";
    case MessageType::InstallSnapshot: return "InstallSnapshot";
    case MessageType::TimeoutNow: return "TimeoutNow";
    case MessageType::ReadIndex: return "ReadIndex";
    case MessageType::ReadIndexResponse: return "ReadIndexResp";
  }
  return "?";
}

std::string to_string(const Message& m) {
  char buf[256];
  int n = std::snprintf(buf, sizeof(buf), "%s %llu->%llu t%llu", message_type_name(m.type),
                        static_cast<unsigned long long>(m.from), static_cast<unsigned long long>(m.to),
                        static_cast<unsigned long long>(m.term));
  std::string out(buf, static_cast<std::size_t>(n));
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  switch (m.type) {
    case MessageType::PreVote:
    case MessageType::Vote:
      out += " last=" + u(m.last_index) + "/t" + u(m.last_term) + (m.transfer ? " transfer" : "");
      break;
    case MessageType::PreVoteResponse:
    case MessageType::VoteResponse:
      out += m.reject ? " reject" : " grant";
      break;
    case MessageType::Append:
      out += " prev=" + u(m.prev_index) + "/t" + u(m.prev_term) + " n=" + u(m.entries.size()) +
             " commit=" + u(m.commit);
      break;
    case MessageType::AppendResponse:
      out += (m.reject ? " reject index=" : " ok index=") + u(m.index);
      if (m.reject) out += " hint=" + u(m.hint_index) + "/t" + u(m.hint_term);
      break;
    case MessageType::Heartbeat:
      out += " commit=" + u(m.commit) + " seq=" + u(m.read_seq);
      break;
    case MessageType::HeartbeatResponse:
      out += " seq=" + u(m.read_seq);
      break;
    case MessageType::InstallSnapshot:
      if (m.snapshot) out += " snap=" + u(m.snapshot->meta.index) + "/t" + u(m.snapshot->meta.term);
      break;
    case MessageType::TimeoutNow:
      break;
    case MessageType::ReadIndex:
    case MessageType::ReadIndexResponse:
      out += " index=" + u(m.index) + " ctx=" + m.context;
      break;
  }
  return out;
}

}  // namespace corvus::rachis::core
