#include "server/subscriptions/subscription_query.h"

#include <algorithm>

#include <boost/json/parse.hpp>

#include "query/document_body.h"
#include "query/field_values.h"
#include "query/operand_value.h"
#include "query/rql_parser.h"

namespace corvus::server::subscriptions {

namespace {

Status unsupported(const std::string& what) {
  return Status::InvalidArgument("A subscription query cannot use " + what);
}

bool same_collection(std::string_view a, std::string_view b) { return storage::lower_id(a) == storage::lower_id(b); }

}  // namespace

Result<std::shared_ptr<const SubscriptionQuery>> SubscriptionQuery::parse(std::string_view text) {
  auto parsed = query::parse_rql(text);
  if (!parsed.ok()) return parsed.status();
  const query::Query& q = parsed.value();
  if (q.source == query::SourceKind::Index) return unsupported("an index ('from index'); name a collection");
  if (!q.order_by.empty()) return unsupported("'order by'");
  if (!q.select.empty() || q.distinct) return unsupported("'select' (projections are not supported)");
  if (q.limit || q.offset) return unsupported("'limit' or 'offset'");
  if (!q.loads.empty()) return unsupported("'load'");
  if (q.update_script) return unsupported("'update'");
  std::shared_ptr<SubscriptionQuery> out(new SubscriptionQuery());
  for (const auto& inc : q.includes) {
    switch (inc.kind) {
      case query::Include::Kind::Document:
        out->includes_.push_back(inc.path);
        break;
      case query::Include::Kind::CompareExchange:
        return unsupported("compare-exchange includes");
      case query::Include::Kind::AllCounters:
      case query::Include::Kind::Counters:
        if (!inc.path.segments.empty()) return unsupported("counters of a related document (counters(path, ...))");
        if (inc.kind == query::Include::Kind::AllCounters) {
          out->all_counters_ = true;
          break;
        }
        for (const auto& operand : inc.counters) {
          auto v = query::resolve_operand(operand, boost::json::object{});
          if (!v.ok()) return v.status();
          const auto add = [&](const boost::json::value& name) -> Status {
            if (!name.is_string()) return Status::InvalidArgument("A subscription's counter names must be strings");
            const std::string counter(name.as_string());
            if (std::find(out->counter_names_.begin(), out->counter_names_.end(), counter) == out->counter_names_.end())
              out->counter_names_.push_back(counter);
            return Status::Ok();
          };
          if (v.value().is_array()) {
            for (const auto& name : v.value().as_array())
              if (Status s = add(name); !s.ok()) return s;
          } else if (Status s = add(v.value()); !s.ok()) {
            return s;
          }
        }
        break;
    }
  }
  out->collection_ = q.source == query::SourceKind::Collection ? q.source_name : std::string();
  out->has_where_ = q.where != nullptr;
  auto filter = query::DocumentFilter::compile(q, boost::json::object{});
  if (!filter.ok()) return filter.status();
  out->filter_ = std::make_unique<query::DocumentFilter>(std::move(filter).value());
  return std::shared_ptr<const SubscriptionQuery>(std::move(out));
}

Result<bool> SubscriptionQuery::matches(const storage::Document& doc) const {
  if (!collection_.empty() && !same_collection(collection_, doc.collection)) return false;
  if (!has_where_) return true;
  auto body = query::parse_document_body(doc);
  if (!body.ok()) return body.status();
  return filter_->matches(body.value(), doc.id);
}

std::vector<std::string> SubscriptionQuery::included_ids(const storage::Document& doc) const {
  std::vector<std::string> ids;
  if (includes_.empty()) return ids;
  auto body = query::parse_document_body(doc);
  if (!body.ok()) return ids;
  std::vector<const boost::json::value*> values;
  for (const auto& path : includes_) {
    values.clear();
    query::collect_field_values(body.value(), path, values);
    for (const auto* v : values) {
      if (v->is_string() && !v->as_string().empty()) ids.emplace_back(v->as_string());
    }
  }
  return ids;
}

}  // namespace corvus::server::subscriptions
