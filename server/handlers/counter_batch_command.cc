#include "server/handlers/counter_batch_command.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/json/serialize.hpp>

#include "server/handlers/handler_support.h"
#include "storage/documents_storage.h"
#include "storage/write_transaction.h"

namespace corvus::server::handlers {
namespace {

namespace json = boost::json;

// "Delta": absent means 0 (RavenDB's default); otherwise a 64-bit integer.
Result<int64_t> parse_delta(const json::object& o, const std::string& where) {
  const auto* d = o.if_contains("Delta");
  if (!d) return int64_t{0};
  if (d->is_int64()) return d->as_int64();
  if (d->is_uint64()) return Status::InvalidArgument(where + ": \"Delta\" " + std::to_string(d->as_uint64()) +
                                                     " does not fit a 64-bit integer (overflow)");
  if (d->is_double()) {
    const double x = d->as_double();
    // 2^63 itself is out of range; doubles at that magnitude are exact integers.
    if (std::isfinite(x) && x == std::trunc(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0) {
      return static_cast<int64_t>(x);
    }
    return Status::InvalidArgument(where + ": \"Delta\" must be a 64-bit integer");
  }
  return Status::InvalidArgument(where + ": \"Delta\" must be a 64-bit integer, got " + json::serialize(*d));
}

class CountersCommand final : public BatchCommand {
 public:
  explicit CountersCommand(DocumentCountersOperation op) : op_(std::move(op)) {}
  Status apply(storage::WriteTransaction& txn, std::string& out) override {
    std::string details;
    bool first = true;
    auto cv = apply_document_counters_operation(txn, op_, false, details, first);
    // A 404 from bulk_docs reads as "no response" to the official clients (they
    // turn 404 into an empty result, then fail with "garbled response"), so a
    // missing document is a 400 here, with the same message. POST /counters
    // answers 404 DocumentDoesNotExistException as RavenDB does.
    if (!cv.ok() && cv.status().is_not_found()) return Status::InvalidArgument(cv.status().message());
    if (!cv.ok()) return cv.status();
    out += "{\"Type\":\"Counters\",\"Id\":";
    out += json_string(op_.document_id);
    out += ",\"CountersDetail\":{\"Counters\":[";
    out += details;
    out += "]}";
    if (!cv->empty()) {
      out += ",\"DocumentChangeVector\":";
      out += json_string(*cv);
    }
    out += "}";
    return Status::Ok();
  }

 private:
  DocumentCountersOperation op_;
};

}  // namespace

bool DocumentCountersOperation::has_writes() const {
  for (const auto& op : operations) {
    if (op.kind != CounterOperation::Kind::Get) return true;
  }
  return false;
}

Result<DocumentCountersOperation> parse_document_counters_operation(const json::value& v, const std::string& where) {
  if (!v.is_object()) return Status::InvalidArgument(where + " must be a JSON object");
  const auto& o = v.as_object();
  DocumentCountersOperation out;
  const auto* id = o.if_contains("DocumentId");
  if (!id || !id->is_string() || id->as_string().empty()) {
    return Status::InvalidArgument(where + " needs a non-empty \"DocumentId\"");
  }
  out.document_id = std::string(id->as_string());
  const auto* ops = o.if_contains("Operations");
  if (!ops || !ops->is_array()) return Status::InvalidArgument(where + " needs an \"Operations\" array");
  size_t index = 0;
  for (const auto& item : ops->as_array()) {
    const std::string at = where + ", operation #" + std::to_string(index++);
    if (!item.is_object()) return Status::InvalidArgument(at + " must be a JSON object");
    const auto& op = item.as_object();
    const auto* type = op.if_contains("Type");
    if (!type || !type->is_string()) return Status::InvalidArgument(at + " has no string \"Type\"");
    CounterOperation parsed;
    const std::string_view t = type->as_string();
    if (t == "None") continue;
    if (t == "Increment") parsed.kind = CounterOperation::Kind::Increment;
    else if (t == "Delete") parsed.kind = CounterOperation::Kind::Delete;
    else if (t == "Get") parsed.kind = CounterOperation::Kind::Get;
    else return Status::InvalidArgument(at + ": counter operation type '" + std::string(t) +
                                        "' is not supported (Increment, Delete, Get)");
    const auto* name = op.if_contains("CounterName");
    if (parsed.kind == CounterOperation::Kind::Get && (!name || name->is_null())) {
      // A Get of no name names no counter: its detail is null, as in RavenDB.
      out.operations.push_back(std::move(parsed));
      continue;
    }
    if (!name || !name->is_string()) return Status::InvalidArgument(at + " has no string \"CounterName\"");
    parsed.name = std::string(name->as_string());
    if (Status s = storage::validate_counter_name(parsed.name); !s.ok()) {
      return Status::InvalidArgument(at + ": " + s.message());
    }
    if (parsed.kind == CounterOperation::Kind::Increment) {
      auto delta = parse_delta(op, at);
      if (!delta.ok()) return delta.status();
      parsed.delta = delta.value();
    }
    out.operations.push_back(std::move(parsed));
  }
  return out;
}

Result<std::string> apply_document_counters_operation(storage::WriteTransaction& txn,
                                                      const DocumentCountersOperation& op, bool full,
                                                      std::string& details, bool& first) {
  storage::DocumentCounters counters(txn, op.document_id);
  for (const auto& o : op.operations) {
    std::optional<storage::StoredCounter> detail;
    switch (o.kind) {
      case CounterOperation::Kind::Increment: {
        auto r = counters.increment(o.name, o.delta);
        if (!r.ok()) return r.status();
        detail = std::move(r).value();
        break;
      }
      case CounterOperation::Kind::Delete: {
        auto r = counters.remove(o.name);
        if (!r.ok()) return r.status();
        continue;  // a delete has no detail
      }
      case CounterOperation::Kind::Get: {
        auto r = counters.get(o.name);
        if (!r.ok()) return r.status();
        detail = std::move(r).value();
        break;
      }
    }
    if (!first) details.push_back(',');
    first = false;
    append_counter_detail(details, op.document_id, detail, full);
  }
  return counters.finish();
}

void append_counter_detail(std::string& out, std::string_view doc_id,
                           const std::optional<storage::StoredCounter>& counter, bool full, std::string_view asked_name) {
  if (!counter) {
    out += "null";
    return;
  }
  out += "{\"DocumentId\":";
  out += json_string(doc_id);
  out += ",\"CounterName\":";
  out += json_string(asked_name.empty() ? std::string_view(counter->value.name()) : asked_name);
  out += ",\"TotalValue\":";
  out += std::to_string(counter->value.saturated_total());
  out += ",\"Etag\":";
  out += std::to_string(counter->etag);
  out += ",\"CounterValues\":";
  if (full) {
    out += "{";
    bool first = true;
    for (const auto& [key, value] : storage::per_node_values(counter->value)) {
      if (!first) out.push_back(',');
      first = false;
      out += json_string(key);
      out += ":";
      out += std::to_string(value);
    }
    out += "}";
  } else {
    out += "null";
  }
  out += "}";
}

Status append_counter_includes(const storage::DocumentsStorage& storage,
                               const std::vector<const storage::Document*>& documents,
                               const std::vector<std::string>& names, std::string& out) {
  std::vector<std::pair<std::string, std::vector<std::string>>> wanted;
  for (const auto* doc : documents)
    if (doc) wanted.emplace_back(doc->id, names);
  return append_counter_includes(storage, wanted, out);
}

Status append_counter_includes(const storage::DocumentsStorage& storage,
                               const std::vector<std::pair<std::string, std::vector<std::string>>>& wanted,
                               std::string& out) {
  storage::CountersStorage counters(storage);
  out += "{";
  bool first_doc = true;
  for (const auto& [doc_id, names] : wanted) {
    if (!first_doc) out.push_back(',');
    first_doc = false;
    out += json_string(doc_id);
    out += ":[";
    bool first = true;
    auto append = [&](const std::optional<storage::StoredCounter>& c, std::string_view asked) {
      if (!first) out.push_back(',');
      first = false;
      append_counter_detail(out, doc_id, c, false, asked);
    };
    if (std::find(names.begin(), names.end(), kAllCounters) != names.end()) {
      auto r = counters.get_all(doc_id);
      if (!r.ok()) return r.status();
      for (const auto& c : r.value()) append(c, {});
    } else {
      auto r = counters.get(doc_id, names);
      if (!r.ok()) return r.status();
      for (size_t i = 0; i < r.value().size(); ++i) append(r.value()[i], names[i]);
    }
    out += "]";
  }
  out += "}";
  return Status::Ok();
}

Result<std::unique_ptr<BatchCommand>> parse_counters_command(const CommandView& c, BatchParseContext&) {
  auto id = required_string(c, "Id");
  if (!id.ok()) return id.status();
  if (id->empty()) return Status::InvalidArgument(c.where + ": Counters needs a non-empty \"Id\"");
  const auto* counters = c.o->if_contains("Counters");
  if (!counters || !counters->is_object()) {
    return Status::InvalidArgument(c.where + ": Counters needs a \"Counters\" object");
  }
  // The operations name their document too; the command's Id is what the result reports.
  json::object body = counters->as_object();
  if (!body.contains("DocumentId")) body["DocumentId"] = id.value();
  auto op = parse_document_counters_operation(json::value(std::move(body)), c.where);
  if (!op.ok()) return op.status();
  if (storage::lower_id(op->document_id) != storage::lower_id(id.value())) {
    return Status::InvalidArgument(c.where + ": \"Id\" '" + id.value() + "' and \"Counters.DocumentId\" '" +
                                   op->document_id + "' differ");
  }
  op->document_id = id.value();
  return std::unique_ptr<BatchCommand>(new CountersCommand(std::move(op).value()));
}

}  // namespace corvus::server::handlers
