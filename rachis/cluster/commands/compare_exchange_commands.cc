#include "rachis/cluster/commands/compare_exchange_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

namespace {

json::value parse_value(const std::string& value_json) {
  boost::system::error_code ec;
  json::value v = json::parse(value_json, ec);
  return ec ? json::value(nullptr) : v;
}

}  // namespace

Status validate_compare_exchange_key(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("a compare-exchange key must not be empty");
  if (key.size() > kMaxCompareExchangeKey) {
    return Status::InvalidArgument("a compare-exchange key may be at most " + std::to_string(kMaxCompareExchangeKey) +
                                   " bytes; got " + std::to_string(key.size()));
  }
  return Status::Ok();
}

json::object CompareExchangeOp::to_json() const {
  json::object o{{"Kind", kind == Kind::Put ? "Put" : "Delete"}, {"Key", key}, {"Index", expected_index}};
  if (kind == Kind::Put) o["Value"] = parse_value(value_json);
  return o;
}

Result<CompareExchangeOp> CompareExchangeOp::from_json(const json::object& o) {
  CompareExchangeOp op;
  const std::string kind = get_string(o, "Kind");
  if (kind == "Put") {
    op.kind = Kind::Put;
  } else if (kind == "Delete") {
    op.kind = Kind::Delete;
  } else {
    return Status::InvalidArgument("compare-exchange op kind '" + kind + "'");
  }
  op.key = get_string(o, "Key");
  op.expected_index = get_u64(o, "Index");
  if (op.kind == Kind::Put) {
    auto* v = o.if_contains("Value");
    op.value_json = v ? json::serialize(*v) : "null";
  }
  if (Status s = validate_compare_exchange_key(op.key); !s.ok()) return s;
  return op;
}

Result<CompareExchangeCheck> check_compare_exchange(const ApplyContext& ctx, std::string_view database,
                                                    const CompareExchangeOp& op) {
  auto current = ctx.state.compare_exchange(database, op.key);
  if (!current.ok()) return current.status();
  CompareExchangeCheck c;
  c.current = std::move(current).value();
  const std::uint64_t index = c.current ? c.current->index : 0;
  if (op.kind == CompareExchangeOp::Kind::Put) {
    c.ok = op.expected_index == index;
  } else {
    c.ok = c.current && op.expected_index == index;
  }
  return c;
}

void execute_compare_exchange(ApplyContext& ctx, std::string_view database, const CompareExchangeOp& op) {
  if (op.kind == CompareExchangeOp::Kind::Put) {
    ctx.batch.put_compare_exchange(database, CompareExchangeValue{op.key, ctx.index, op.value_json});
  } else {
    ctx.batch.delete_compare_exchange(database, op.key);
  }
}

json::object CompareExchangeCommand::fields() const { return {{"Database", database}, {"Op", op.to_json()}}; }

Result<std::unique_ptr<ClusterCommand>> CompareExchangeCommand::decode(const json::object& o) {
  auto c = std::make_unique<CompareExchangeCommand>();
  c->database = get_string(o, "Database");
  auto* op = o.if_contains("Op");
  if (c->database.empty() || !op || !op->is_object()) return Status::InvalidArgument("needs Database and Op");
  auto parsed = CompareExchangeOp::from_json(op->as_object());
  if (!parsed.ok()) return parsed.status();
  c->op = std::move(parsed).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult CompareExchangeCommand::apply(ApplyContext& ctx) const {
  auto record = ctx.state.record(database);
  if (!record || !record->active()) return {Status::NotFound("Database '" + database + "' does not exist"), nullptr};
  auto check = check_compare_exchange(ctx, database, op);
  if (!check.ok()) return {check.status(), nullptr};
  json::object out;
  if (!check->ok) {
    // RavenDB answers a failed check with the current value and index; the
    // clients refuse a zero index, so a missing key reports this entry's.
    out["Successful"] = false;
    out["Index"] = check->current ? check->current->index : ctx.index;
    out["Value"] = check->current ? parse_value(check->current->value_json) : json::value(nullptr);
    return {Status::Ok(), std::move(out)};
  }
  execute_compare_exchange(ctx, database, op);
  out["Successful"] = true;
  out["Index"] = ctx.index;
  out["Value"] = op.kind == CompareExchangeOp::Kind::Put ? parse_value(op.value_json)
                 : check->current                        ? parse_value(check->current->value_json)
                                                         : json::value(nullptr);
  return {Status::Ok(), std::move(out)};
}

}  // namespace corvus::rachis::cluster
