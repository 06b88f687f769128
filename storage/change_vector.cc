#include "storage/change_vector.h"

#include <algorithm>
#include <charconv>
#include <tuple>

namespace corvus::storage {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 16) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

}  // namespace

Result<ChangeVector> ChangeVector::parse(std::string_view text) {
  ChangeVector cv;
  text = trim(text);
  if (text.empty()) return cv;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = item.find(':');
    size_t dash = item.find('-', colon == std::string_view::npos ? 0 : colon);
    if (colon == std::string_view::npos || dash == std::string_view::npos) {
      return Status::InvalidArgument("invalid change vector entry '" + std::string(item) +
                                     "': expected <tag>:<etag>-<database id>");
    }
    std::string_view tag = item.substr(0, colon);
    std::string_view etag_text = item.substr(colon + 1, dash - colon - 1);
    std::string_view dbid = item.substr(dash + 1);
    uint64_t etag = 0;
    auto [ptr, ec] = std::from_chars(etag_text.data(), etag_text.data() + etag_text.size(), etag);
    if (!valid_tag(tag) || ec != std::errc() || ptr != etag_text.data() + etag_text.size() ||
        dbid.empty()) {
      return Status::InvalidArgument("invalid change vector entry '" + std::string(item) +
                                     "': expected <tag>:<etag>-<database id>");
    }
    cv.set(tag, etag, dbid);
  }
  return cv;
}

void ChangeVector::insert_sorted(ChangeVectorEntry entry) {
  auto at = std::lower_bound(entries_.begin(), entries_.end(), entry,
                             [](const ChangeVectorEntry& a, const ChangeVectorEntry& b) {
                               return std::tie(a.node_tag, a.database_id) < std::tie(b.node_tag, b.database_id);
                             });
  entries_.insert(at, std::move(entry));
}

void ChangeVector::set(std::string_view node_tag, uint64_t etag, std::string_view database_id) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const ChangeVectorEntry& e) { return e.database_id == database_id; });
  if (it != entries_.end()) {
    if (it->node_tag == node_tag) {
      it->etag = etag;
      return;
    }
    entries_.erase(it);  // the tag changed: the entry moves to its new place
  }
  insert_sorted({std::string(node_tag), etag, std::string(database_id)});
}

void ChangeVector::merge(const ChangeVector& other) {
  for (const auto& o : other.entries_) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const ChangeVectorEntry& e) { return e.database_id == o.database_id; });
    if (it == entries_.end()) {
      insert_sorted(o);
    } else if (o.etag > it->etag) {
      set(o.node_tag, o.etag, o.database_id);
    }
  }
}

ChangeVectorOrder ChangeVector::compare(const ChangeVector& other) const {
  bool some_greater = false;
  bool some_less = false;
  auto etag_in = [](const ChangeVector& cv, const std::string& dbid) -> uint64_t {
    for (const auto& e : cv.entries_)
      if (e.database_id == dbid) return e.etag;
    return 0;
  };
  for (const auto& e : entries_) {
    uint64_t theirs = etag_in(other, e.database_id);
    if (e.etag > theirs) some_greater = true;
    if (e.etag < theirs) some_less = true;
  }
  for (const auto& o : other.entries_) {
    if (o.etag > etag_in(*this, o.database_id)) some_less = true;
  }
  if (some_greater && some_less) return ChangeVectorOrder::Concurrent;
  if (some_greater) return ChangeVectorOrder::Newer;
  if (some_less) return ChangeVectorOrder::Older;
  return ChangeVectorOrder::Equal;
}

std::string ChangeVector::to_string() const {
  std::string out;
  for (const auto& e : entries_) {
    if (!out.empty()) out += ", ";
    out += e.node_tag;
    out += ':';
    out += std::to_string(e.etag);
    out += '-';
    out += e.database_id;
  }
  return out;
}

uint64_t ChangeVector::etag_of(std::string_view node_tag) const {
  uint64_t out = 0;
  for (const auto& e : entries_) {
    if (e.node_tag == node_tag) out = std::max(out, e.etag);
  }
  return out;
}

}  // namespace corvus::storage
