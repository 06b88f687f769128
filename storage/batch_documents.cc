#include "storage/batch_documents.h"

namespace corvus::storage {

void BatchDocuments::put(const std::string& key, std::string_view value, const std::string& rep) {
  Slot slot;
  slot.size = value.size();
  // RocksDB's WriteBatch ends a Put record with its value. Checked, not
  // assumed: a layout that ever differed costs a copy, not a wrong read.
  if (rep.size() >= value.size() && std::string_view(rep).substr(rep.size() - value.size()) == value) {
    slot.offset = rep.size() - value.size();
  } else {
    slot.copy.emplace(value);
  }
  set(key, std::move(slot));
}

void BatchDocuments::erase(const std::string& key) {
  Slot slot;
  slot.deleted = true;
  set(key, std::move(slot));
}

void BatchDocuments::set(const std::string& key, Slot slot) {
  auto [it, inserted] = latest_.try_emplace(key);
  if (!save_points_.empty()) {
    undo_.emplace_back(key, inserted ? std::nullopt : std::optional<Slot>(std::move(it->second)));
  }
  it->second = std::move(slot);
}

BatchDocuments::Lookup BatchDocuments::find(const std::string& key, const std::string& rep,
                                            std::string* value) const {
  auto it = latest_.find(key);
  if (it == latest_.end()) return Lookup::Absent;
  const Slot& slot = it->second;
  if (slot.deleted) return Lookup::Deleted;
  if (slot.copy) {
    *value = *slot.copy;
  } else {
    value->assign(rep, slot.offset, slot.size);
  }
  return Lookup::Found;
}

void BatchDocuments::rollback_to_save_point() {
  if (save_points_.empty()) return;
  const size_t mark = save_points_.back();
  save_points_.pop_back();
  while (undo_.size() > mark) {
    auto& [key, previous] = undo_.back();
    if (previous) {
      latest_[key] = std::move(*previous);
    } else {
      latest_.erase(key);
    }
    undo_.pop_back();
  }
}

void BatchDocuments::pop_save_point() {
  if (save_points_.empty()) return;
  save_points_.pop_back();
  // Kept: an outer save point may still roll these changes back.
  if (save_points_.empty()) undo_.clear();
}

}  // namespace corvus::storage
