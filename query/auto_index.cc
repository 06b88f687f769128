#include "query/auto_index.h"

#include <unordered_map>

#include <boost/json/parse.hpp>
#include <rocksdb/iterator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "query/document_body.h"
#include "query/field_values.h"
#include "storage/engine.h"

namespace corvus::query {

namespace {

constexpr const char* kDefinitionKey = "Mdefinition";
constexpr const char* kLastEtagKey = "Mlast-etag";
constexpr const char* kLastIndexingKey = "Mlast-indexing";
constexpr const char* kDocumentsKey = "Mdocuments";
// Which entries the index holds; another (or none: before sort entries and the
// document count) is rebuilt from etag 0 when opened.
constexpr const char* kFormatKey = "Mformat";
constexpr const char* kFormat = "2";

std::string reverse_key(std::string_view lowered_id) { return "R" + std::string(lowered_id); }

// A document's entries, each stored as its term prefix (the entry key without
// the id): 4-byte length then bytes.
std::string encode_entries(const std::vector<std::string>& prefixes) {
  std::string out;
  for (const auto& p : prefixes) {
    out += storage::encode_big_endian(p.size()).substr(4);
    out += p;
  }
  return out;
}

Result<std::vector<std::string>> decode_entries(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    if (bytes.size() < 4) return Status::Corruption("truncated index entry list");
    uint64_t len = storage::decode_big_endian(std::string(4, '\0') + std::string(bytes.substr(0, 4)));
    bytes.remove_prefix(4);
    if (bytes.size() < len) return Status::Corruption("truncated index entry list");
    out.emplace_back(bytes.substr(0, len));
    bytes.remove_prefix(len);
  }
  return out;
}

}  // namespace

namespace {

// The smallest key greater than every key starting with `prefix`.
std::string after_prefix(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<unsigned char>(prefix.back());
    if (c != 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\xff');
}

}  // namespace

AutoIndex::~AutoIndex() = default;

Result<std::unique_ptr<AutoIndex>> AutoIndex::open_db(const std::string& dir,
                                                     std::shared_ptr<rocksdb::Cache> block_cache) {
  rocksdb::Options options;
  if (block_cache) {
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = std::move(block_cache);
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  }
  options.create_if_missing = true;
  storage::without_statistics_dump(options);
  // Index entries are small and many: a modest write buffer per index keeps
  // many auto-indexes from each holding the default 64 MB.
  options.write_buffer_size = 16 << 20;
  options.max_open_files = 256;
  rocksdb::DB* raw = nullptr;
  if (Status s = storage::from_rocksdb(rocksdb::DB::Open(options, dir, &raw), "open index " + dir); !s.ok())
    return s;
  std::unique_ptr<AutoIndex> index(new AutoIndex());
  index->db_.reset(raw);
  index->dir_ = dir;
  return index;
}

Result<std::unique_ptr<AutoIndex>> AutoIndex::open(const std::string& dir, const AutoIndexDefinition& definition,
                                                  std::shared_ptr<rocksdb::Cache> block_cache) {
  auto opened = open_db(dir, std::move(block_cache));
  if (!opened.ok()) return opened.status();
  auto index = std::move(opened).value();
  std::string stored;
  rocksdb::Status s = index->db_->Get(rocksdb::ReadOptions(), kDefinitionKey, &stored);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;  // the definition is what makes the directory an index at the next start
    if (Status w = storage::from_rocksdb(index->db_->Put(wo, kDefinitionKey, definition.to_json()), "create index");
        !w.ok())
      return w;
    stored = definition.to_json();
  } else if (!s.ok()) {
    return storage::from_rocksdb(s, "read index definition");
  }
  if (stored != definition.to_json())
    return Status::Corruption("index directory " + dir + " holds another definition: " + stored);
  if (Status l = index->load(); !l.ok()) return l;
  return index;
}

Result<std::unique_ptr<AutoIndex>> AutoIndex::open_existing(const std::string& dir,
                                                           std::shared_ptr<rocksdb::Cache> block_cache) {
  auto opened = open_db(dir, std::move(block_cache));
  if (!opened.ok()) return opened.status();
  auto index = std::move(opened).value();
  if (Status l = index->load(); !l.ok()) return l;
  return index;
}

Status AutoIndex::load() {
  std::string format;
  rocksdb::Status f = db_->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (!f.ok() && !f.IsNotFound()) return storage::from_rocksdb(f, "read index format");
  if (f.IsNotFound() || format != kFormat) {
    if (Status c = reset(); !c.ok()) return c;
  }
  std::string stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kDefinitionKey, &stored);
  if (s.IsNotFound()) return Status::Corruption("index directory " + dir_ + " has no definition");
  if (!s.ok()) return storage::from_rocksdb(s, "read index definition");
  auto def = AutoIndexDefinition::from_json(stored);
  if (!def.ok()) return def.status();
  definition_ = std::move(def).value();
  name_ = definition_.name();
  lowered_collection_ = storage::lower_id(definition_.collection);
  for (auto [key, target] : {std::pair{kLastEtagKey, 0}, std::pair{kLastIndexingKey, 1}, std::pair{kDocumentsKey, 2}}) {
    std::string v;
    s = db_->Get(rocksdb::ReadOptions(), key, &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return storage::from_rocksdb(s, "read index position");
    if (target == 0) last_etag_.store(storage::decode_big_endian(v));
    else if (target == 1) last_indexing_us_.store(static_cast<int64_t>(storage::decode_big_endian(v)));
    else documents_.store(storage::decode_big_endian(v));
  }
  return Status::Ok();
}

bool AutoIndex::covers_collection(std::string_view collection) const {
  return lowered_collection_.empty() || storage::lower_id(collection.empty() ? "@empty" : collection) ==
                                            lowered_collection_;
}

Status AutoIndex::index(const std::vector<storage::Change>& changes, uint64_t position, int64_t now_us) {
  rocksdb::WriteBatch batch;
  // Entry lists written earlier in this batch (an id can come twice:
  // deleted, then created again); nullopt: deleted.
  std::unordered_map<std::string, std::optional<std::string>> written;
  // A document's entries before this change; nullopt: not indexed.
  auto old_entries = [&](const std::string& rkey) -> Result<std::optional<std::vector<std::string>>> {
    using Entries = std::optional<std::vector<std::string>>;
    std::string v;
    if (auto it = written.find(rkey); it != written.end()) {
      if (!it->second) return Entries();
      v = *it->second;
    } else {
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rkey, &v);
      if (s.IsNotFound()) return Entries();
      if (!s.ok()) return storage::from_rocksdb(s, "read index entries");
    }
    auto decoded = decode_entries(v);
    if (!decoded.ok()) return decoded.status();
    return Entries(std::move(decoded).value());
  };
  uint64_t documents = documents_.load(std::memory_order_relaxed);
  std::vector<const boost::json::value*> values;
  for (const auto& change : changes) {
    const std::string& id = std::visit([](const auto& c) -> const std::string& { return c.id; }, change);
    const std::string& collection =
        std::visit([](const auto& c) -> const std::string& { return c.collection; }, change);
    if (!covers_collection(collection)) continue;
    const std::string lowered = storage::lower_id(id);
    const std::string rkey = reverse_key(lowered);
    auto old = old_entries(rkey);
    if (!old.ok()) return old.status();
    if (old.value()) {
      for (const auto& prefix : *old.value()) batch.Delete(prefix + lowered).PermitUncheckedError();
      --documents;
    }
    const auto* doc = std::get_if<storage::Document>(&change);
    if (!doc) {
      batch.Delete(rkey).PermitUncheckedError();
      written[rkey].reset();
      continue;
    }
    ++documents;
    auto parsed = parse_document_body(*doc);
    if (!parsed.ok()) return parsed.status();
    const boost::json::value& body = parsed.value();
    std::vector<std::string> prefixes;
    const std::string etag_value = storage::encode_big_endian(doc->etag);
    for (size_t f = 0; f < definition_.fields.size(); ++f) {
      values.clear();
      collect_field_values(body, definition_.fields[f], values);
      for (const auto* v : values) {
        auto term = term_of(*v);
        if (!term) continue;
        std::string prefix = term_prefix(static_cast<uint8_t>(f), *term, true);
        batch.Put(prefix + lowered, etag_value).PermitUncheckedError();
        prefixes.push_back(std::move(prefix));
      }
      std::string sort_key = sort_prefix(static_cast<uint8_t>(f), sort_term(values));
      batch.Put(sort_key + lowered, etag_value).PermitUncheckedError();
      prefixes.push_back(std::move(sort_key));
    }
    std::string encoded = encode_entries(prefixes);
    batch.Put(rkey, encoded).PermitUncheckedError();
    written[rkey] = std::move(encoded);
  }
  batch.Put(kLastEtagKey, storage::encode_big_endian(position)).PermitUncheckedError();
  batch.Put(kLastIndexingKey, storage::encode_big_endian(static_cast<uint64_t>(now_us))).PermitUncheckedError();
  batch.Put(kDocumentsKey, storage::encode_big_endian(documents)).PermitUncheckedError();
  if (Status s = storage::from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch), "write index entries"); !s.ok())
    return s;
  documents_.store(documents, std::memory_order_release);
  last_indexing_us_.store(now_us, std::memory_order_release);
  last_etag_.store(position, std::memory_order_release);
  return Status::Ok();
}

Status AutoIndex::reset() {
  rocksdb::WriteBatch batch;
  // Everything but the definition: entries ('E'), entry lists ('R'), sort
  // entries ('O'), the count and the position; the format stamped.
  for (auto [from, until] : {std::pair{"E", "F"}, std::pair{"O", "P"}, std::pair{"R", "S"}})
    batch.DeleteRange(db_->DefaultColumnFamily(), from, until).PermitUncheckedError();
  for (const char* key : {kLastEtagKey, kLastIndexingKey, kDocumentsKey}) batch.Delete(key).PermitUncheckedError();
  batch.Put(kFormatKey, kFormat).PermitUncheckedError();
  if (Status s = storage::from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch), "reset index"); !s.ok()) return s;
  documents_.store(0, std::memory_order_release);
  last_etag_.store(0, std::memory_order_release);
  last_indexing_us_.store(0, std::memory_order_release);
  return Status::Ok();
}

Status AutoIndex::scan(const std::string& from, const std::string& until,
                       const std::function<bool(std::string_view key, std::string_view value)>& found) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(until);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(from); it->Valid(); it->Next()) {
    if (!found(std::string_view(it->key().data(), it->key().size()),
               std::string_view(it->value().data(), it->value().size())))
      break;
  }
  return storage::from_rocksdb(it->status(), "read index entries");
}


Result<std::vector<std::string>> AutoIndex::terms(uint8_t field, std::string_view from_value,
                                                  size_t page_size) const {
  std::vector<std::string> out;
  for (TermType type : {TermType::String, TermType::Number}) {
    const std::string prefix = type_prefix(field, type);
    std::string from = prefix;
    if (type == TermType::String && !from_value.empty())
      from = after_prefix(term_prefix(field, string_term(from_value), true));  // past every entry of that value
    std::string last;
    Status s = scan(from, after_prefix(prefix), [&](std::string_view key, std::string_view) {
      auto term = entry_term(key);
      if (!term) return true;  // malformed: not a term to list
      std::string value = type == TermType::Number ? number_text(term->value) : std::move(term->value);
      if (!out.empty() && value == last) return true;
      last = value;
      out.push_back(std::move(value));
      return out.size() < page_size;
    });
    if (!s.ok()) return s;
    if (out.size() >= page_size) break;
  }
  return out;
}

Status AutoIndex::walk_sort_entries(uint8_t field, bool descending, const SortFound& found) const {
  const std::string from = sort_field_prefix(field);
  const std::string until = after_prefix(from);
  auto visit = [&](std::string_view key, std::string_view value) -> Result<bool> {
    auto term = entry_term(key);
    if (!term) return Status::Corruption("malformed index sort entry");
    return found(*term, entry_document(key), storage::decode_big_endian(value));
  };
  if (!descending) {
    Status malformed;
    Status s = scan(from, until, [&](std::string_view key, std::string_view value) {
      auto go_on = visit(key, value);
      if (!go_on.ok()) malformed = go_on.status();
      return go_on.ok() && go_on.value();
    });
    return s.ok() ? malformed : s;
  }
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower(from);
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekForPrev(until); it->Valid(); it->Prev()) {
    auto go_on = visit(std::string_view(it->key().data(), it->key().size()),
                       std::string_view(it->value().data(), it->value().size()));
    if (!go_on.ok()) return go_on.status();
    if (!go_on.value()) break;
  }
  return storage::from_rocksdb(it->status(), "read index sort entries");
}

Result<bool> AutoIndex::has_sort_entries(uint8_t field, TermType type) const {
  bool any = false;
  const std::string prefix = sort_type_prefix(field, type);
  Status s = scan(prefix, after_prefix(prefix), [&any](std::string_view, std::string_view) {
    any = true;
    return false;
  });
  if (!s.ok()) return s;
  return any;
}

Status AutoIndex::lookup_range(uint8_t field, TermType type, const std::optional<Bound>& low,
                               const std::optional<Bound>& high, const Found& found) const {
  const std::string type_key = type_prefix(field, type);
  std::string from = type_key;
  if (low) from = term_prefix(field, Term{type, low->value}, true);
  const std::string low_exclusive = low && !low->inclusive ? from : std::string();
  std::string until = after_prefix(type_key);
  if (high) {
    std::string high_key = term_prefix(field, Term{type, high->value}, true);
    until = high->inclusive ? after_prefix(high_key) : high_key;
  }
  return scan(from, until, [&](std::string_view key, std::string_view value) {
    if (!low_exclusive.empty() && key.starts_with(low_exclusive)) return true;
    return found(entry_document(key), storage::decode_big_endian(value));
  });
}

Status AutoIndex::lookup_prefix(uint8_t field, std::string_view prefix, const Found& found) const {
  std::string from = term_prefix(field, Term{TermType::String, std::string(prefix)}, false);
  return scan(from, after_prefix(from), [&](std::string_view key, std::string_view value) {
    return found(entry_document(key), storage::decode_big_endian(value));
  });
}

Status AutoIndex::lookup_equal(uint8_t field, const Term& term, const Found& found) const {
  std::string from = term_prefix(field, term, true);
  return scan(from, after_prefix(from), [&](std::string_view key, std::string_view value) {
    return found(entry_document(key), storage::decode_big_endian(value));
  });
}

}  // namespace corvus::query
