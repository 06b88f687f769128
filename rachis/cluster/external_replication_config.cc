#include "rachis/cluster/external_replication_config.h"

#include <cctype>
#include <charconv>

#include <boost/json.hpp>

#include "rachis/cluster/definition_fields.h"
#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

// Digits only, at most `max_len` of them.
std::optional<std::uint64_t> number(std::string_view s, size_t max_len = 9) {
  if (s.empty() || s.size() > max_len) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_time_span(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.front() == '-') return std::nullopt;
  std::uint64_t days = 0;
  const size_t first_colon = s.find(':');
  if (first_colon == std::string_view::npos) {
    // "d": whole days, as .NET reads it.
    auto d = number(s);
    if (!d) return std::nullopt;
    return std::chrono::milliseconds(*d * 86'400'000);
  }
  std::string_view head = s.substr(0, first_colon);
  if (const size_t dot = head.find('.'); dot != std::string_view::npos) {
    auto d = number(head.substr(0, dot));
    if (!d) return std::nullopt;
    days = *d;
    head = head.substr(dot + 1);
  }
  std::string_view rest = s.substr(first_colon + 1);
  const size_t second_colon = rest.find(':');
  std::string_view minutes_text = second_colon == std::string_view::npos ? rest : rest.substr(0, second_colon);
  std::string_view seconds_text = second_colon == std::string_view::npos ? "0" : rest.substr(second_colon + 1);
  std::string_view fraction;
  if (const size_t dot = seconds_text.find('.'); dot != std::string_view::npos) {
    fraction = seconds_text.substr(dot + 1);
    seconds_text = seconds_text.substr(0, dot);
  }
  auto hours = number(head, 2);
  auto minutes = number(minutes_text, 2);
  auto seconds = number(seconds_text, 2);
  if (!hours || !minutes || !seconds || *hours > 23 || *minutes > 59 || *seconds > 59) return std::nullopt;
  std::uint64_t ms = 0;
  if (!fraction.empty()) {
    if (fraction.size() > 7 || !number(fraction, 7)) return std::nullopt;
    std::string digits(fraction.substr(0, 3));
    while (digits.size() < 3) digits += '0';
    ms = *number(digits, 3);
  }
  return std::chrono::milliseconds(((days * 24 + *hours) * 60 + *minutes) * 60'000 + *seconds * 1000 + ms);
}

std::string external_replication_responsible_node(const std::vector<std::string>& members,
                                                  const ExternalReplicationDefinition& d) {
  if (!d.mentor_node.empty()) {
    for (const auto& m : members) {
      if (m == d.mentor_node) return m;
    }
    if (d.pin_to_mentor_node) return "";  // pinned: only the mentor runs it
  }
  std::string best;
  std::uint64_t best_rank = 0;
  for (const auto& m : members) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : m + "/" + std::to_string(d.task_id)) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    if (best.empty() || h > best_rank) {
      best = m;
      best_rank = h;
    }
  }
  return best;
}

json::object ExternalReplicationDefinition::to_json() const {
  return {{"Name", name},
          {"TaskId", task_id},
          {"ConnectionStringName", connection_string_name},
          {"MentorNode", mentor_node.empty() ? json::value(nullptr) : json::value(mentor_node)},
          {"PinToMentorNode", pin_to_mentor_node},
          {"DelayReplicationFor", delay_replication_for.empty() ? json::value("00:00:00") : json::value(delay_replication_for)},
          {"Disabled", disabled}};
}

Result<ExternalReplicationDefinition> ExternalReplicationDefinition::from_json(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("an external replication must be a JSON object");
  const json::object& o = v.as_object();
  ExternalReplicationDefinition d;
  auto cs = optional_string(o, "ConnectionStringName");
  if (!cs.ok()) return cs.status();
  d.connection_string_name = std::string(trim(*cs));
  if (d.connection_string_name.empty()) {
    return Status::InvalidArgument("the external replication needs a ConnectionStringName (PutConnectionStringOperation first)");
  }
  auto name = optional_string(o, "Name");
  if (!name.ok()) return name.status();
  d.name = std::string(trim(*name));
  if (d.name.empty()) d.name = "External replication to " + d.connection_string_name;
  auto mentor = optional_string(o, "MentorNode");
  if (!mentor.ok()) return mentor.status();
  d.mentor_node = std::string(trim(*mentor));
  auto pin = optional_bool(o, "PinToMentorNode");
  if (!pin.ok()) return pin.status();
  d.pin_to_mentor_node = *pin;
  auto disabled = optional_bool(o, "Disabled");
  if (!disabled.ok()) return disabled.status();
  d.disabled = *disabled;
  if (const json::value* id = o.if_contains("TaskId"); id && !id->is_null()) {
    if (!id->is_number() || (id->is_int64() && id->as_int64() < 0) || (id->is_double() && id->as_double() < 0)) {
      return Status::InvalidArgument("TaskId must be a non-negative number");
    }
    d.task_id = get_u64(o, "TaskId");
  }
  auto delay = optional_string(o, "DelayReplicationFor");
  if (!delay.ok()) return delay.status();
  *delay = std::string(trim(*delay));
  if (!delay->empty()) {
    auto parsed = parse_time_span(*delay);
    if (!parsed) {
      return Status::InvalidArgument("DelayReplicationFor '" + *delay +
                                     "' is not a TimeSpan ([d.]hh:mm:ss[.fffffff], not negative)");
    }
    d.delay = *parsed;
    if (d.delay.count() > 0) d.delay_replication_for = *delay;
  }
  return d;
}

}  // namespace corvus::rachis::cluster
