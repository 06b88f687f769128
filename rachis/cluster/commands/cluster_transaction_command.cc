#include "rachis/cluster/commands/cluster_transaction_command.h"

#include <set>

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"
#include "storage/document.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

std::uint64_t cluster_transaction_index(std::string_view cv, std::string_view transaction_id) {
  // Entries look like "TAG:<n>-<id>", separated by ", ".
  const std::string needle = "-" + std::string(transaction_id);
  std::size_t pos = 0;
  while (pos < cv.size()) {
    std::size_t end = cv.find(',', pos);
    if (end == std::string_view::npos) end = cv.size();
    std::string_view entry = cv.substr(pos, end - pos);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    const auto colon = entry.find(':');
    if (colon != std::string_view::npos && entry.size() > needle.size() &&
        entry.substr(entry.size() - needle.size()) == needle) {
      std::string_view digits = entry.substr(colon + 1, entry.size() - needle.size() - colon - 1);
      std::uint64_t n = 0;
      bool ok = !digits.empty();
      for (char c : digits) {
        if (c < '0' || c > '9') ok = false;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (ok) return n;
    }
    pos = end + 1;
  }
  return 0;
}

std::string cluster_transaction_change_vector(std::uint64_t index, std::string_view transaction_id) {
  return "TRXN:" + std::to_string(index) + "-" + std::string(transaction_id);
}

json::object ClusterTransactionCommand::fields() const {
  json::array list;
  for (const auto& it : items) {
    switch (it.kind) {
      case ClusterTransactionItem::Kind::PutDocument:
      case ClusterTransactionItem::Kind::DeleteDocument: {
        json::object o{{"Type", it.kind == ClusterTransactionItem::Kind::PutDocument ? "PUT" : "DELETE"}, {"Id", it.id}};
        if (it.kind == ClusterTransactionItem::Kind::PutDocument) o["Document"] = it.document;
        if (it.original_change_vector) o["OriginalChangeVector"] = *it.original_change_vector;
        list.push_back(std::move(o));
        break;
      }
      case ClusterTransactionItem::Kind::CompareExchange: {
        json::object o = it.op.to_json();
        o["Type"] = "CompareExchange";
        list.push_back(std::move(o));
        break;
      }
    }
  }
  return {{"Database", database},
          {"Commands", std::move(list)},
          {"DisableAtomicDocumentWrites", disable_atomic_document_writes},
          {"LastModified", last_modified_us}};
}

Result<std::unique_ptr<ClusterCommand>> ClusterTransactionCommand::decode(const json::object& o) {
  auto c = std::make_unique<ClusterTransactionCommand>();
  c->database = get_string(o, "Database");
  c->disable_atomic_document_writes = get_bool(o, "DisableAtomicDocumentWrites");
  if (auto* lm = o.if_contains("LastModified"); lm && lm->is_int64()) c->last_modified_us = lm->as_int64();
  auto* list = o.if_contains("Commands");
  if (c->database.empty() || !list || !list->is_array()) return Status::InvalidArgument("needs Database and Commands");
  for (const auto& v : list->as_array()) {
    if (!v.is_object()) return Status::InvalidArgument("a command is not an object");
    const auto& co = v.as_object();
    const std::string type = get_string(co, "Type");
    ClusterTransactionItem item;
    if (type == "PUT" || type == "DELETE") {
      item.kind = type == "PUT" ? ClusterTransactionItem::Kind::PutDocument : ClusterTransactionItem::Kind::DeleteDocument;
      item.id = get_string(co, "Id");
      if (auto* d = co.if_contains("Document"); d && d->is_object()) item.document = d->as_object();
      if (auto* cv = co.if_contains("OriginalChangeVector"); cv && cv->is_string()) {
        item.original_change_vector = std::string(cv->as_string());
      }
    } else if (type == "CompareExchange") {
      item.kind = ClusterTransactionItem::Kind::CompareExchange;
      auto op = CompareExchangeOp::from_json(co);
      if (!op.ok()) return op.status();
      item.op = std::move(op).value();
    } else {
      return Status::InvalidArgument("command type '" + type + "'");
    }
    c->items.push_back(std::move(item));
  }
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult ClusterTransactionCommand::apply(ApplyContext& ctx) const {
  auto record = ctx.state.record(database);
  if (!record || !record->active()) return {Status::NotFound("Database '" + database + "' does not exist"), nullptr};
  const std::string& tx_id = record->cluster_transaction_id;

  // Every compare-exchange change of the transaction: the user's, then the guards.
  std::vector<CompareExchangeOp> ops;
  for (const auto& it : items) {
    if (it.kind == ClusterTransactionItem::Kind::CompareExchange) ops.push_back(it.op);
  }
  if (!disable_atomic_document_writes) {
    for (const auto& it : items) {
      if (it.kind == ClusterTransactionItem::Kind::CompareExchange) continue;
      CompareExchangeOp guard;
      guard.key = std::string(kAtomicGuardPrefix) + it.id;
      guard.expected_index = it.original_change_vector ? cluster_transaction_index(*it.original_change_vector, tx_id) : 0;
      if (it.kind == ClusterTransactionItem::Kind::PutDocument) {
        guard.kind = CompareExchangeOp::Kind::Put;
        guard.value_json = json::serialize(json::object{{"Object", json::object{{"Id", it.id}}}});
      } else {
        guard.kind = CompareExchangeOp::Kind::Delete;
        if (!it.original_change_vector) {
          // A blind delete: remove the guard whatever its index, if there is one.
          auto current = ctx.state.compare_exchange(database, guard.key);
          if (!current.ok()) return {current.status(), nullptr};
          if (!*current) continue;
          guard.expected_index = (*current)->index;
        }
      }
      ops.push_back(std::move(guard));
    }
  }

  std::set<std::string> keys;
  std::string failures;
  for (const auto& op : ops) {
    if (!keys.insert(storage::lower_id(op.key)).second) {
      return {Status::InvalidArgument("the transaction changes compare-exchange key '" + op.key + "' twice"), nullptr};
    }
    auto check = check_compare_exchange(ctx, database, op);
    if (!check.ok()) return {check.status(), nullptr};
    if (!check->ok) {
      failures += (failures.empty() ? "" : "; ") + std::string("concurrency check failed for ") +
                  (op.kind == CompareExchangeOp::Kind::Put ? "putting" : "deleting") + " the key '" + op.key +
                  "': requested index " + std::to_string(op.expected_index) + ", actual index " +
                  std::to_string(check->current ? check->current->index : 0);
    }
  }
  if (!failures.empty()) return {Status::ConcurrencyConflict("Failed to execute cluster transaction: " + failures), nullptr};
  for (const auto& op : ops) execute_compare_exchange(ctx, database, op);

  const std::string cv = cluster_transaction_change_vector(ctx.index, tx_id);
  json::array results;
  json::array documents;
  for (const auto& it : items) {
    switch (it.kind) {
      case ClusterTransactionItem::Kind::PutDocument:
        results.push_back(json::object{{"Type", "PUT"}, {"@id", it.id}, {"@change-vector", cv}});
        documents.push_back(json::object{{"Type", "PUT"}, {"Id", it.id}, {"Document", it.document}});
        break;
      case ClusterTransactionItem::Kind::DeleteDocument:
        results.push_back(json::object{{"Type", "DELETE"}, {"@id", it.id}, {"Id", it.id}, {"Deleted", true}});
        documents.push_back(json::object{{"Type", "DELETE"}, {"Id", it.id}});
        break;
      case ClusterTransactionItem::Kind::CompareExchange:
        results.push_back(json::object{
            {"Type", it.op.kind == CompareExchangeOp::Kind::Put ? "CompareExchangePUT" : "CompareExchangeDELETE"},
            {"Key", it.op.key},
            {"Index", ctx.index}});
        break;
    }
  }
  if (!documents.empty()) {
    ctx.batch.put_cluster_transaction(
        database, ClusterTransactionRecord{ctx.index, json::serialize(json::object{{"Commands", std::move(documents)},
                                                                                  {"ChangeVector", cv},
                                                                                  {"LastModified", last_modified_us}})});
    ctx.databases_changed.push_back(record->name);
  }
  return {Status::Ok(), json::object{{"Results", std::move(results)}}};
}

}  // namespace corvus::rachis::cluster
