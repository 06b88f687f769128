#include "query/index_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace corvus::query {

namespace {

namespace fs = std::filesystem;

// Changes read per indexing batch: large enough to amortize the batch write,
// small enough that a new index does not hold back the others for long.
constexpr size_t kIndexingBatch = 1024;
// A file in an index directory that says the index was deleted: the directory
// is removed once nobody uses the index, or at the next start.
constexpr const char* kDeletedMarker = "deleted";

// Closes the index, then removes its directory if it was deleted.
std::shared_ptr<AutoIndex> share(std::unique_ptr<AutoIndex> index) {
  return std::shared_ptr<AutoIndex>(index.release(), [](AutoIndex* p) {
    fs::path dir = p->directory();
    delete p;
    std::error_code ec;
    if (fs::exists(dir / kDeletedMarker, ec)) fs::remove_all(dir, ec);
  });
}

uint64_t etag_of(const storage::Change& c) {
  return std::visit([](const auto& x) { return x.etag; }, c);
}

bool same_collection(const AutoIndexDefinition& a, const AutoIndexDefinition& b) {
  return a.collection.size() == b.collection.size() && storage::lower_id(a.collection) == storage::lower_id(b.collection);
}

}  // namespace

Result<std::unique_ptr<IndexStore>> IndexStore::open(storage::DocumentsStorage& storage, std::string dir) {
  std::unique_ptr<IndexStore> store(new IndexStore(storage, std::move(dir)));
  std::error_code ec;
  fs::create_directories(store->dir_, ec);
  if (ec) return Status::IOError("cannot create " + store->dir_ + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(store->dir_, ec)) {
    if (!entry.is_directory()) continue;
    const std::string leaf = entry.path().filename().string();
    if (leaf.empty() || !std::all_of(leaf.begin(), leaf.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    store->next_directory_ = std::max<uint64_t>(store->next_directory_, std::stoull(leaf) + 1);
    if (fs::exists(entry.path() / kDeletedMarker)) {
      fs::remove_all(entry.path(), ec);
      continue;
    }
    auto index = AutoIndex::open_existing(entry.path().string(), storage.options().block_cache);
    if (!index.ok()) return index.status();
    std::string key = storage::lower_id(index.value()->name());
    store->indexes_[key].index = share(std::move(index).value());
  }
  if (ec) return Status::IOError("cannot list " + store->dir_ + ": " + ec.message());
  IndexStore* self = store.get();
  store->listener_ = storage.add_commit_listener([self](uint64_t) {
    {
      std::lock_guard lock(self->mu_);
      self->work_ = true;
    }
    self->work_cv_.notify_one();
  });
  store->thread_ = std::thread([self] { self->run(); });
  return store;
}

IndexStore::~IndexStore() {
  storage_.remove_commit_listener(listener_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  progress_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

IndexStore::Entry* IndexStore::entry_of(std::string_view name) {
  auto it = indexes_.find(storage::lower_id(name));
  return it == indexes_.end() ? nullptr : &it->second;
}

const IndexStore::Entry* IndexStore::entry_of(std::string_view name) const {
  auto it = indexes_.find(storage::lower_id(name));
  return it == indexes_.end() ? nullptr : &it->second;
}

std::shared_ptr<AutoIndex> IndexStore::narrowest_covering(const AutoIndexDefinition& wanted) const {
  // Fewer fields, less to keep up to date.
  std::shared_ptr<AutoIndex> best;
  for (const auto& [key, e] : indexes_) {
    if (!e.index->definition().covers(wanted)) continue;
    if (!best || e.index->definition().fields.size() < best->definition().fields.size()) best = e.index;
  }
  return best;
}

AutoIndexDefinition IndexStore::widened(const AutoIndexDefinition& wanted) const {
  AutoIndexDefinition definition = wanted;
  for (const auto& [key, e] : indexes_)
    if (e.superseded_by.empty() && same_collection(e.index->definition(), wanted))
      definition = definition.merged_with(e.index->definition());
  return definition;
}

IndexStore::Explanation IndexStore::explain(const AutoIndexDefinition& wanted) const {
  std::lock_guard lock(mu_);
  Explanation out;
  const auto chosen = narrowest_covering(wanted);
  out.exists = chosen != nullptr;
  out.index_name = chosen ? chosen->name() : widened(wanted).name();
  for (const auto& [key, e] : indexes_) {
    const AutoIndexDefinition& d = e.index->definition();
    if (!same_collection(d, wanted)) continue;
    std::string reason;
    if (!e.superseded_by.empty()) {
      reason = "Superseded by " + e.superseded_by + ", retired once that one has caught up";
    } else if (d.covers(wanted)) {
      reason = e.index == chosen ? "Complete match (the narrowest index covering the query's fields: used)"
                                 : "Complete match, but a narrower index covers the query";
    } else {
      std::string lacks;
      for (const auto& f : wanted.fields)
        if (d.field_number(f.text) < 0) lacks += (lacks.empty() ? "" : ", ") + f.text;
      reason = "Partial match: lacks " + lacks + "; the query would create " + out.index_name + ", which supersedes it";
    }
    out.reasons.emplace_back(e.index->name(), std::move(reason));
  }
  return out;
}

Result<std::shared_ptr<AutoIndex>> IndexStore::index_for(const AutoIndexDefinition& wanted, bool* created) {
  std::lock_guard lock(mu_);
  if (created) *created = false;
  if (auto best = narrowest_covering(wanted)) return best;
  // None: one index with these fields and those of the collection's other
  // indexes, which it supersedes.
  AutoIndexDefinition definition = widened(wanted);
  const std::string name = definition.name();
  const std::string dir = (fs::path(dir_) / std::to_string(next_directory_++)).string();
  auto opened = AutoIndex::open(dir, definition, storage_.options().block_cache);
  if (!opened.ok()) return opened.status();
  if (created) *created = true;
  for (auto& [key, e] : indexes_)
    if (definition.covers(e.index->definition())) e.superseded_by = name;
  auto index = share(std::move(opened).value());
  indexes_[storage::lower_id(name)].index = index;
  tell(index->name(), "IndexAdded");
  work_ = true;
  work_cv_.notify_one();
  return index;
}

std::shared_ptr<AutoIndex> IndexStore::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  const Entry* e = entry_of(name);
  return e ? e->index : nullptr;
}

std::vector<std::shared_ptr<AutoIndex>> IndexStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<AutoIndex>> out;
  for (const auto& [key, e] : indexes_) out.push_back(e.index);
  return out;
}

std::shared_ptr<AutoIndex> IndexStore::detach(std::map<std::string, Entry>::iterator it) {
  std::shared_ptr<AutoIndex> index = std::move(it->second.index);
  indexes_.erase(it);
  std::ofstream(fs::path(index->directory()) / kDeletedMarker).put('\n');
  progress_cv_.notify_all();
  tell(index->name(), "IndexRemoved");
  return index;  // the caller drops it outside the lock: closing may take a moment
}

Status IndexStore::remove(std::string_view name) {
  std::shared_ptr<AutoIndex> removed;
  {
    std::lock_guard lock(mu_);
    auto it = indexes_.find(storage::lower_id(name));
    if (it == indexes_.end()) return Status::NotFound("Index '" + std::string(name) + "' does not exist");
    removed = detach(it);
  }
  return Status::Ok();
}

Status IndexStore::reset(std::string_view name) {
  std::shared_ptr<AutoIndex> index;
  {
    std::lock_guard lock(mu_);
    Entry* e = entry_of(name);
    if (!e) return Status::NotFound("Index '" + std::string(name) + "' does not exist");
    e->error.clear();
    index = e->index;
  }
  std::lock_guard writing(indexing_mu_);  // not while the indexing thread writes it
  Status s = index->reset();
  {
    std::lock_guard lock(mu_);
    work_ = true;
  }
  work_cv_.notify_one();
  return s;
}

Status IndexStore::pause(std::string_view name) {
  std::lock_guard lock(mu_);
  if (name.empty()) {
    all_paused_ = true;
  } else {
    Entry* e = entry_of(name);
    if (!e) return Status::NotFound("Index '" + std::string(name) + "' does not exist");
    e->paused = true;
    tell(e->index->name(), "IndexPaused");  // as RavenDB: stopping one index, not all of them
  }
  progress_cv_.notify_all();
  return Status::Ok();
}

Status IndexStore::resume(std::string_view name) {
  std::lock_guard lock(mu_);
  if (name.empty()) {
    all_paused_ = false;
    for (auto& [key, e] : indexes_) e.paused = false;
  } else {
    Entry* e = entry_of(name);
    if (!e) return Status::NotFound("Index '" + std::string(name) + "' does not exist");
    e->paused = false;
  }
  work_ = true;
  work_cv_.notify_one();
  return Status::Ok();
}

void IndexStore::set_listener(Listener listener) {
  std::lock_guard lock(index_listener_mu_);
  index_listener_ = std::move(listener);
}

void IndexStore::tell(const std::string& name, const char* type) const {
  std::lock_guard lock(index_listener_mu_);
  if (index_listener_) index_listener_(name, type);
}

bool IndexStore::paused(const AutoIndex& index) const {
  std::lock_guard lock(mu_);
  const Entry* e = entry_of(index.name());
  return all_paused_ || (e && e->paused);
}

bool IndexStore::all_paused() const {
  std::lock_guard lock(mu_);
  return all_paused_;
}

Status IndexStore::clear_errors(std::string_view name) {
  std::lock_guard lock(mu_);
  if (name.empty()) {
    for (auto& [key, e] : indexes_) e.error.clear();
  } else {
    Entry* e = entry_of(name);
    if (!e) return Status::NotFound("Index '" + std::string(name) + "' does not exist");
    e->error.clear();
  }
  work_ = true;
  work_cv_.notify_one();
  return Status::Ok();
}

std::string IndexStore::error_of(const AutoIndex& index) const {
  std::lock_guard lock(mu_);
  const Entry* e = entry_of(index.name());
  return e ? e->error : std::string();
}

bool IndexStore::wait_for(const AutoIndex& index, uint64_t etag, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  progress_cv_.wait_for(lock, timeout, [&] {
    if (stop_ || all_paused_ || index.last_indexed_etag() >= etag) return true;
    const Entry* e = entry_of(index.name());
    return !e || e->index.get() != &index || e->paused || !e->error.empty();
  });
  return index.last_indexed_etag() >= etag;
}

void IndexStore::run() {
  for (;;) {
    std::vector<std::shared_ptr<AutoIndex>> work;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || work_; });
      if (stop_) return;
      work_ = false;
      if (!all_paused_)
        for (const auto& [key, e] : indexes_)
          if (!e.paused && e.error.empty()) work.push_back(e.index);
    }
    // One batch per index per round, so a new index being built from zero
    // does not hold back the others.
    bool more = false;
    for (const auto& index : work) more = index_some(index) || more;
    retire_superseded();
    if (more) {
      std::lock_guard lock(mu_);
      work_ = true;
    }
  }
}

bool IndexStore::index_some(const std::shared_ptr<AutoIndex>& index) {
  std::lock_guard writing(indexing_mu_);
  const uint64_t from = index->last_indexed_etag();
  const uint64_t last = storage_.published().last_etag;
  if (from >= last) return false;
  Status status;
  auto changes = storage_.changes_since(from, kIndexingBatch);
  if (changes.ok()) {
    // A short read saw everything up to its snapshot, which is at least `last`.
    uint64_t position = changes.value().size() < kIndexingBatch ? last : from;
    for (const auto& c : changes.value()) position = std::max(position, etag_of(c));
    status = index->index(changes.value(), position, storage_.options().clock->now_micros());
    if (status.ok() && !changes.value().empty()) tell(index->name(), "BatchCompleted");
  } else {
    status = changes.status();
  }
  if (!status.ok()) {
    std::cerr << "index " << index->name() << " stopped: " << status.to_string() << std::endl;
    std::lock_guard lock(mu_);
    if (Entry* e = entry_of(index->name()); e && e->index == index) {
      e->error = status.to_string();
      tell(index->name(), "IndexMarkedAsErrored");
    }
    progress_cv_.notify_all();
    return false;
  }
  progress_cv_.notify_all();
  return index->last_indexed_etag() < storage_.published().last_etag;
}

void IndexStore::retire_superseded() {
  const uint64_t last = storage_.published().last_etag;
  std::vector<std::shared_ptr<AutoIndex>> retired;
  std::lock_guard lock(mu_);
  for (auto it = indexes_.begin(); it != indexes_.end();) {
    const Entry* wider = it->second.superseded_by.empty() ? nullptr : entry_of(it->second.superseded_by);
    if (wider && wider->index->last_indexed_etag() >= last) {
      auto next = std::next(it);
      retired.push_back(detach(it));
      it = next;
    } else {
      ++it;
    }
  }
}

}  // namespace corvus::query
