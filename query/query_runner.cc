#include "query/query_runner.h"

#include <algorithm>

#include <boost/json.hpp>

#include "query/document_body.h"
#include "query/field_values.h"
#include "query/index_lookup.h"
#include "query/operand_value.h"
#include "query/sorted_walk.h"
#include "storage/counters_storage.h"

namespace corvus::query {

namespace {

namespace json = boost::json;

// Fields of the queried document that `e` filters on (not id(), not loaded documents).
void filtered_fields(const Expression& e, const std::string& alias, std::vector<FieldPath>& out) {
  auto add = [&](const FieldPath& f) {
    if (!f.is_id && (f.alias.empty() || f.alias == alias) && !f.segments.empty()) out.push_back(f);
  };
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, Comparison> || std::is_same_v<T, InList> || std::is_same_v<T, Between> ||
                      std::is_same_v<T, MethodCall>) {
          add(node.field);
        } else if constexpr (std::is_same_v<T, And> || std::is_same_v<T, Or>) {
          filtered_fields(*node.left, alias, out);
          filtered_fields(*node.right, alias, out);
        } else if constexpr (std::is_same_v<T, Not>) {
          filtered_fields(*node.operand, alias, out);
        }
      },
      e.node);
}

// The documents an id() equality names (`id() = x`, `id() in (...)`, also as
// one side of an `and`): the only candidates; nullopt when `e` is not that.
Result<std::optional<IndexCandidates>> id_candidates(const Expression& e, const json::object& parameters) {
  using Candidates = std::optional<IndexCandidates>;
  auto add = [](const json::value& v, IndexCandidates& out) {
    if (v.is_string()) out.documents.emplace(storage::lower_id(v.get_string()), 0);
  };
  if (const auto* c = std::get_if<Comparison>(&e.node); c && c->field.is_id && c->op == CompareOp::Equal) {
    auto v = resolve_operand(c->value, parameters);
    if (!v.ok()) return v.status();
    IndexCandidates out;
    add(v.value(), out);
    return Candidates(std::move(out));
  }
  if (const auto* in = std::get_if<InList>(&e.node); in && in->field.is_id && !in->all) {
    IndexCandidates out;
    for (const auto& operand : in->values) {
      auto v = resolve_operand(operand, parameters);
      if (!v.ok()) return v.status();
      if (v.value().is_array()) {
        for (const auto& x : v.value().as_array()) add(x, out);
      } else {
        add(v.value(), out);
      }
    }
    return Candidates(std::move(out));
  }
  if (const auto* a = std::get_if<And>(&e.node)) {
    auto left = id_candidates(*a->left, parameters);
    if (!left.ok() || left.value()) return left;
    return id_candidates(*a->right, parameters);
  }
  return Candidates();
}

// A limit or offset: a non-negative integer, or null (none).
Result<std::optional<uint64_t>> paging_value(const std::optional<Operand>& operand, const json::object& parameters,
                                             const char* what) {
  if (!operand) return std::optional<uint64_t>();
  auto v = resolve_operand(*operand, parameters);
  if (!v.ok()) return v.status();
  const json::value& x = v.value();
  if (x.is_null()) return std::optional<uint64_t>();
  if (x.is_int64() && x.get_int64() >= 0) return std::optional<uint64_t>(static_cast<uint64_t>(x.get_int64()));
  if (x.is_uint64()) return std::optional<uint64_t>(x.get_uint64());
  if (x.is_double() && x.get_double() >= 0 && x.get_double() == static_cast<double>(static_cast<uint64_t>(x.get_double())))
    return std::optional<uint64_t>(static_cast<uint64_t>(x.get_double()));
  return Status::InvalidArgument(std::string("RQL: ") + what + " must be a non-negative integer, got " +
                                 json::serialize(x));
}

void hash_in(uint64_t& h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
  h *= 1099511628211ull;
}

// The auto-index a dynamic query needs: the fields it filters or sorts on
// (none: it reads the collection).
AutoIndexDefinition wanted_index(const Query& query) {
  std::vector<FieldPath> fields;
  if (query.where) filtered_fields(*query.where, query.alias, fields);
  for (const auto& o : query.order_by)
    if (o.kind == OrderBy::Kind::Field && !o.field.is_id && (o.field.alias.empty() || o.field.alias == query.alias))
      fields.push_back(o.field);
  return make_auto_index_definition(query.source == SourceKind::Collection ? query.source_name : std::string(),
                                    std::move(fields));
}

}  // namespace

Result<std::unique_ptr<QueryRunner>> QueryRunner::start(const Query& query, QueryOptions options,
                                                        storage::DocumentsStorage& storage, IndexStore& indexes) {
  std::unique_ptr<QueryRunner> runner(new QueryRunner(query, std::move(options), storage, indexes));
  const auto& params = runner->options_.parameters;
  for (const auto& include : query.includes) {
    if (include.kind == Include::Kind::CompareExchange) {
      auto& keys = runner->compare_exchange_keys_;
      if (!keys) keys.emplace();
      if (include.key) {
        auto v = resolve_operand(*include.key, params);
        if (!v.ok()) return v.status();
        if (!v.value().is_string()) return Status::InvalidArgument("RQL: a compare-exchange key must be a string");
        keys->emplace(v.value().as_string());
      }
      continue;
    }
    if (include.kind == Include::Kind::Document) continue;
    CounterClause& counters = runner->counter_clauses_.emplace_back();
    counters.path = include.path;
    counters.all = include.kind == Include::Kind::AllCounters;
    for (const auto& operand : include.counters) {
      auto v = resolve_operand(operand, params);
      if (!v.ok()) return v.status();
      std::vector<json::value> names;
      if (v.value().is_array()) names.assign(v.value().as_array().begin(), v.value().as_array().end());
      else names.push_back(v.value());
      for (const auto& name : names) {
        if (!name.is_string()) return Status::InvalidArgument("RQL: counter names must be strings");
        counters.names.emplace_back(name.as_string());
      }
    }
  }
  if (query.update_script)
    return Status::InvalidArgument("RQL: an update clause is only valid in a patch by query");
  auto filter = DocumentFilter::compile(query, params);
  if (!filter.ok()) return filter.status();
  runner->filter_.emplace(std::move(filter).value());
  auto sorter = DocumentSorter::compile(query, params);
  if (!sorter.ok()) return sorter.status();
  runner->sorter_.emplace(std::move(sorter).value());
  auto projector = Projector::compile(query, params);
  if (!projector.ok()) return projector.status();
  runner->projector_.emplace(std::move(projector).value());
  if (Status s = runner->resolve_paging(); !s.ok()) return s;
  if (Status s = runner->plan(); !s.ok()) return s;
  // Compared compare-exchange values change without any document changing.
  if (const auto* values = params.if_contains(kCompareExchangeValuesParameter))
    hash_in(runner->etag_hash_, json::serialize(*values));
  return runner;
}

Status QueryRunner::resolve_paging() {
  auto limit = paging_value(query_.limit, options_.parameters, "limit");
  if (!limit.ok()) return limit.status();
  auto offset = paging_value(query_.offset, options_.parameters, "offset");
  if (!offset.ok()) return offset.status();
  skip_ = offset.value().value_or(0) + options_.extra_skip.value_or(0);
  take_ = limit.value();
  if (take_ && options_.extra_skip) take_ = *take_ > *options_.extra_skip ? *take_ - *options_.extra_skip : 0;
  if (options_.extra_take) take_ = take_ ? std::min(*take_, *options_.extra_take) : *options_.extra_take;
  return Status::Ok();
}

Result<IndexStore::Explanation> QueryRunner::explain(const Query& query, const IndexStore& indexes) {
  if (query.source == SourceKind::Index)
    return Status::InvalidArgument("Explain can only work on dynamic queries (from a collection or @all_docs), not "
                                   "on index '" + query.source_name + "'");
  const AutoIndexDefinition wanted = wanted_index(query);
  IndexStore::Explanation out = indexes.explain(wanted);
  if (wanted.fields.empty()) {
    out.index_name = query.source == SourceKind::AllDocs ? "AllDocs" : "collection/" + query.source_name;
    out.exists = true;
    for (auto& [index, reason] : out.reasons)
      reason = "Not needed: a query without a filter or sort reads the collection";
  }
  return out;
}

Status QueryRunner::plan() {
  cutoff_etag_ = storage_.published().last_etag;
  if (query_.source == SourceKind::Index) {
    index_ = indexes_->find(query_.source_name);
    if (!index_) return Status::NotFound("Index '" + query_.source_name + "' does not exist");
    lowered_collection_ = storage::lower_id(index_->definition().collection);
  } else {
    if (query_.source == SourceKind::Collection) lowered_collection_ = storage::lower_id(query_.source_name);
    AutoIndexDefinition wanted = wanted_index(query_);
    if (!wanted.fields.empty()) {
      bool created = false;
      auto index = indexes_->index_for(wanted, &created);
      if (!index.ok()) return index.status();
      index_ = std::move(index).value();
      // Let a new auto-index have some results (RavenDB waits 15 s by default, 60 s in streams).
      if (created && !options_.wait_for_non_stale && !options_.wait_timeout_given)
        wait_timeout_ = options_.new_index_wait;
    }
  }
  if (!index_) {
    stats_.index_name = query_.source == SourceKind::AllDocs ? "AllDocs" : "collection/" + query_.source_name;
    stats_.index_timestamp_us = storage_.options().clock->now_micros();
    return Status::Ok();
  }
  stats_.index_name = index_->name();
  if (options_.wait_for_non_stale && index_->last_indexed_etag() < cutoff_etag_) wait_timeout_ = options_.wait_timeout;
  return Status::Ok();
}

Status QueryRunner::execute() {
  if (index_) {
    // Stale: a change made before the query started is not in the index yet.
    if (wait_timeout_.count() > 0 && index_->last_indexed_etag() < cutoff_etag_)
      indexes_->wait_for(*index_, cutoff_etag_, wait_timeout_);
    stats_.is_stale = index_->last_indexed_etag() < cutoff_etag_;
    stats_.index_etag = index_->last_indexed_etag();
    stats_.index_timestamp_us = index_->last_indexing_time_us();
  }
  return find_matches();
}

bool QueryRunner::in_collection(const storage::Document& doc) const {
  return lowered_collection_.empty() ||
         storage::lower_id(doc.collection.empty() ? "@empty" : doc.collection) == lowered_collection_;
}

Status QueryRunner::find_matches() {
  const json::object& params = options_.parameters;
  // Before the lookup: the entries read are at least this recent.
  const uint64_t index_position = index_ ? index_->last_indexed_etag() : 0;
  std::optional<IndexCandidates> candidates;
  if (query_.where) {
    auto ids = id_candidates(*query_.where, params);
    if (!ids.ok()) return ids.status();
    candidates = std::move(ids).value();
    if (!candidates && index_) {
      auto from_index = index_candidates(*query_.where, *index_, params);
      if (!from_index.ok()) return from_index.status();
      candidates = std::move(from_index).value();
    }
  }
  // After the index lookup: the documents are at least as new as the entries.
  snapshot_ = std::make_unique<storage::DocumentSnapshot>(storage_);
  auto open_cursor = [&] {
    return lowered_collection_.empty() ? snapshot_->scan_all() : snapshot_->scan_collection(lowered_collection_);
  };
  if (!query_.where && sorter_->empty() && !candidates) {
    cursor_ = open_cursor();  // read as handed out
    return Status::Ok();
  }
  // The index gives the matches without reading them: only the returned ones
  // are read (next() checks each against the filter when the index is behind
  // the snapshot, which may hold documents changed since).
  auto serve_exact = [&](std::vector<std::string> ids, uint64_t total) -> Status {
    matches_ = std::move(ids);
    stats_.total_results = total;
    exact_matches_ = true;
    auto last = snapshot_->last_etag();
    if (!last.ok()) return last.status();
    check_returned_ = index_position < last.value();
    return Status::Ok();
  };
  if (candidates && candidates->exact && sorter_->empty()) {
    // The index answers the filter exactly: its candidates in etag order
    // (sorted as (etag, pointer) pairs: moving the strings was 11% of a query
    // with 10,000 matches).
    std::vector<std::pair<uint64_t, const std::string*>> by_etag;
    by_etag.reserve(candidates->documents.size());
    for (const auto& [id, etag] : candidates->documents) by_etag.emplace_back(etag, &id);
    std::sort(by_etag.begin(), by_etag.end(),
              [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : *a.second < *b.second; });
    std::vector<std::string> ids;
    ids.reserve(by_etag.size());
    for (const auto& [etag, id] : by_etag) ids.push_back(*id);
    const uint64_t total = ids.size();
    return serve_exact(std::move(ids), total);
  }
  if (index_ && !sorter_->empty() && take_ && !query_.distinct && skip_ + *take_ <= kMaxSortedPage &&
      (!query_.where || (candidates && candidates->exact))) {
    // A sorted page off the index's sort entries, when they are in the sort's order.
    const IndexCandidates* exact = query_.where ? &*candidates : nullptr;
    auto page = walk_sorted_page(*index_, *sorter_, exact, skip_ + *take_, *snapshot_);
    if (!page.ok()) return page.status();
    if (page.value())
      return serve_exact(std::move(*page.value()), exact ? exact->documents.size() : index_->documents_count());
  }
  struct Match {
    DocumentSorter::Key key;
    uint64_t etag;
    std::string id;
  };
  std::vector<Match> found;
  uint64_t matched = 0;
  // Sort order: the sort's keys, then etag (RavenDB's order without a sort).
  auto before = [&](const Match& a, const Match& b) {
    if (sorter_->less(a.key, b.key)) return true;
    if (sorter_->less(b.key, a.key)) return false;
    return a.etag < b.etag;
  };
  // A sorted page (offset + limit) keeps only its best matches, in a heap
  // whose top is the worst kept: memory follows the page, not the matches.
  // Not for distinct (duplicates dropped later would need more).
  const bool bounded = !sorter_->empty() && take_ && !query_.distinct && skip_ + *take_ <= kMaxSortedPage;
  const size_t bound = bounded ? static_cast<size_t>(skip_ + *take_) : 0;
  // Without a sort the page is the matches of the smallest etags: their
  // documents (at most kMaxKeptDocuments) are kept, so that next() does not
  // read them again.
  const size_t keep =
      sorter_->empty() && take_ && skip_ + *take_ <= kMaxKeptDocuments ? static_cast<size_t>(skip_ + *take_) : 0;
  std::map<uint64_t, storage::Document> kept;  // by etag
  auto consider = [&](storage::Document doc) -> Status {
    if (!in_collection(doc)) return Status::Ok();
    auto body = parse_document_body(doc);
    if (!body.ok()) return body.status();
    if (!filter_->matches(body.value(), doc.id)) return Status::Ok();
    ++matched;
    Match m{{}, doc.etag, storage::lower_id(doc.id)};
    if (!sorter_->empty()) m.key = sorter_->key_of(body.value(), doc.id);
    if (bounded) {
      if (found.size() == bound && (bound == 0 || !before(m, found.front()))) return Status::Ok();
      found.push_back(std::move(m));
      std::push_heap(found.begin(), found.end(), before);
      if (found.size() > bound) {
        std::pop_heap(found.begin(), found.end(), before);
        found.pop_back();
      }
      return Status::Ok();
    }
    found.push_back(std::move(m));
    if (keep > 0 && (kept.size() < keep || doc.etag < kept.rbegin()->first)) {
      if (kept.size() == keep) kept.erase(std::prev(kept.end()));
      const uint64_t etag = doc.etag;
      kept.emplace(etag, std::move(doc));
    }
    return Status::Ok();
  };
  if (candidates) {
    for (const auto& [id, etag] : candidates->documents) {
      auto doc = snapshot_->get(id);
      if (!doc.ok()) return doc.status();
      if (!doc.value()) continue;  // deleted since it was indexed
      if (Status s = consider(std::move(*doc.value())); !s.ok()) return s;
    }
  } else {
    auto cursor = open_cursor();
    for (;;) {
      auto doc = cursor->next();
      if (!doc.ok()) return doc.status();
      if (!doc.value()) break;
      if (Status s = consider(std::move(*doc.value())); !s.ok()) return s;
    }
  }
  if (sorter_->empty())
    std::sort(found.begin(), found.end(), [](const Match& a, const Match& b) { return a.etag < b.etag; });
  else
    std::sort(found.begin(), found.end(), before);
  matches_.reserve(found.size());
  for (auto& m : found) {
    if (auto it = kept.find(m.etag); it != kept.end()) kept_documents_.emplace(matches_.size(), std::move(it->second));
    matches_.push_back(std::move(m.id));
  }
  stats_.total_results = matched;
  return Status::Ok();
}

Result<std::optional<std::string>> QueryRunner::next() {
  while (!done_) {
    if (cursor_ && take_ && emitted_ >= *take_) {
      // The page is full: the rest only counts, by keys.
      auto rest = cursor_->count_rest();
      if (!rest.ok()) return rest.status();
      stats_.total_results += rest.value();
      done_ = true;
      break;
    }
    std::optional<storage::Document> doc;
    if (cursor_) {
      auto d = cursor_->next();
      if (!d.ok()) return d.status();
      doc = std::move(d).value();
      if (doc) ++stats_.total_results;
    } else if (next_match_ < matches_.size()) {
      if (exact_matches_ && !query_.distinct && seen_ < skip_) {
        // An exact lookup's offset skips ids without reading their documents.
        const uint64_t jump = std::min<uint64_t>(skip_ - seen_, matches_.size() - next_match_);
        next_match_ += static_cast<size_t>(jump);
        seen_ += jump;
        continue;
      }
      const size_t i = next_match_++;
      if (exact_matches_ && !kept_documents_.count(i))
        if (Status s = prefetch(i); !s.ok()) return s;
      if (auto it = kept_documents_.find(i); it != kept_documents_.end()) {
        doc = std::move(it->second);  // read by find_matches from the same snapshot
        kept_documents_.erase(it);
      } else {
        auto d = snapshot_->get(matches_[i]);
        if (!d.ok()) return d.status();
        if (!d.value()) {
          if (exact_matches_) continue;  // deleted since it was indexed
          return Status::Corruption("a matched document vanished from the query's snapshot");
        }
        doc = std::move(d).value();
      }
    }
    if (!doc) {
      done_ = true;
      break;
    }
    if (take_ && emitted_ >= *take_) {
      done_ = true;
      break;
    }
    // A whole document is returned as stored: parsed only for a projection,
    // includes, or to check a match an index behind the snapshot gave.
    json::value body;
    if (!projector_->empty() || !query_.includes.empty() || check_returned_) {
      auto parsed = parse_document_body(*doc);
      if (!parsed.ok()) return parsed.status();
      body = std::move(parsed).value();
    }
    if (check_returned_ && (!in_collection(*doc) || !filter_->matches(body, doc->id))) continue;
    auto rendered = render(*doc, body);
    if (!rendered.ok() || !rendered.value()) {
      if (!rendered.ok()) return rendered;
      continue;
    }
    return rendered;
  }
  return std::optional<std::string>();
}

Status QueryRunner::prefetch(size_t from) {
  // The rest of the page, or a batch when there is no limit.
  const uint64_t want = take_ ? std::max<uint64_t>(1, *take_ - std::min(*take_, emitted_)) : kMaxKeptDocuments;
  const size_t end = std::min(matches_.size(), from + static_cast<size_t>(std::min<uint64_t>(want, kMaxKeptDocuments)));
  std::vector<std::string> ids(matches_.begin() + static_cast<std::ptrdiff_t>(from),
                               matches_.begin() + static_cast<std::ptrdiff_t>(end));
  auto docs = snapshot_->get_many(ids);
  if (!docs.ok()) return docs.status();
  for (size_t k = 0; k < docs.value().size(); ++k)
    if (docs.value()[k]) kept_documents_.emplace(from + k, std::move(*docs.value()[k]));
  return Status::Ok();
}

Result<std::optional<std::string>> QueryRunner::render(const storage::Document& doc, json::value& body) {
  std::string out;
  if (projector_->empty()) {
    if (seen_++ < skip_) return std::optional<std::string>();
    out = doc.json;
  } else {
    std::vector<json::value> loaded_bodies;
    std::vector<const json::value*> loaded;
    for (const auto& id : projector_->load_ids(body)) {
      loaded_bodies.emplace_back();
      if (id.empty()) continue;
      auto d = snapshot_->get(id);
      if (!d.ok()) return d.status();
      if (!d.value()) continue;
      auto b = parse_document_body(*d.value());
      if (!b.ok()) return b.status();
      loaded_bodies.back() = std::move(b).value();
    }
    for (const auto& b : loaded_bodies) loaded.push_back(b.is_null() ? nullptr : &b);
    std::vector<std::optional<int64_t>> counters;
    if (!projector_->counter_names().empty()) {
      auto stored = storage::CountersStorage(storage_).get(doc.id, projector_->counter_names());
      if (!stored.ok()) return stored.status();
      for (const auto& c : stored.value()) {
        counters.push_back(c ? std::optional<int64_t>(c->value.saturated_total()) : std::nullopt);
        hash_in(etag_hash_, c ? std::to_string(c->etag) : "-");  // counters change without the document changing
      }
    }
    json::object projected = projector_->project(body, doc.id, loaded, counters);
    if (query_.distinct) {
      if (!distinct_seen_.insert(json::serialize(projected)).second) {
        ++stats_.skipped_results;
        return std::optional<std::string>();
      }
    }
    if (seen_++ < skip_) return std::optional<std::string>();
    json::object metadata{{"@id", doc.id}, {"@change-vector", doc.change_vector}, {"@projection", true}};
    if (const auto* o = body.if_object())
      if (const auto* m = o->if_contains("@metadata"); m && m->is_object())
        for (const char* key : {"@collection", "@last-modified", "@flags"})
          if (const auto* v = m->as_object().if_contains(key)) metadata[key] = *v;
    projected["@metadata"] = std::move(metadata);
    out = json::serialize(projected);
  }
  ++emitted_;
  last_id_ = doc.id;
  hash_in(etag_hash_, doc.id);
  hash_in(etag_hash_, doc.change_vector);
  note_includes(doc.id, body);
  return std::optional<std::string>(std::move(out));
}

void QueryRunner::note_includes(const std::string& id, const json::value& body) {
  std::vector<const json::value*> values;
  for (const auto& clause : counter_clauses_) {
    auto note = [&](const std::string& doc_id) {
      CounterSelection& selection = counter_documents_[doc_id];
      selection.all = selection.all || clause.all;
      selection.names.insert(clause.names.begin(), clause.names.end());
    };
    if (clause.path.segments.empty()) {
      note(id);
      continue;
    }
    values.clear();
    collect_field_values(body, clause.path, values);
    for (const auto* v : values)
      if (v->is_string()) note(std::string(v->get_string()));
  }
  for (const auto& include : query_.includes) {
    const bool document = include.kind == Include::Kind::Document;
    if (!document && !(include.kind == Include::Kind::CompareExchange && !include.key)) continue;
    values.clear();
    collect_field_values(body, include.path, values);
    for (const auto* v : values) {
      if (!v->is_string()) continue;
      if (document) include_ids_.insert(std::string(v->get_string()));
      else compare_exchange_keys_->insert(std::string(v->get_string()));
    }
  }
}

Result<std::map<std::string, std::string>> QueryRunner::includes() {
  std::map<std::string, std::string> out;
  for (const auto& id : include_ids_) {
    auto d = snapshot_->get(id);
    if (!d.ok()) return d.status();
    if (!d.value()) continue;
    hash_in(etag_hash_, d.value()->change_vector);
    out.emplace(d.value()->id, std::move(d.value()->json));
  }
  return out;
}

void QueryRunner::add_to_result_etag(std::string_view bytes) { hash_in(etag_hash_, bytes); }

uint64_t QueryRunner::result_etag() const {
  uint64_t h = etag_hash_;
  hash_in(h, std::to_string(stats_.total_results));
  return h;
}

}  // namespace corvus::query
