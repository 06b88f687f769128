// The receiving side of replicated attachment records (attachments_storage.h,
// "replication"): records under their own change vector, alternates for the
// records a document's conflict resolution may still pick, and the
// reconciliation of records with the document version that becomes current.
#include <map>
#include <optional>
#include <string>

#include <boost/json/parse.hpp>

#include "storage/attachment_records.h"
#include "storage/attachments_storage.h"
#include "storage/blob_store.h"
#include "storage/change_vector.h"
#include "storage/documents_storage.h"

namespace corvus::storage {
namespace json = boost::json;
using namespace attachment_records;

namespace {

// The current version of a document as replication sees it: its change
// vector and the attachments it lists (lowered name -> hash); a deletion
// lists none.
struct CurrentVersion {
  ChangeVector change_vector;
  std::map<std::string, std::string> listed;
  // The version won a conflict (flag Resolved): its change vector covers the
  // losing version's attachments although it never listed them, and a later
  // resolution elsewhere may pick the losing side again.
  bool resolved = false;
};

// nullopt when the document has neither a version nor a tombstone here (not
// arrived yet, or in conflict).
Result<std::optional<CurrentVersion>> current_version(WriteTransaction& txn, std::string_view document_id) {
  auto doc = txn.get(document_id);
  if (!doc.ok()) return doc.status();
  CurrentVersion current;
  std::string cv_text;
  if (const auto& d = doc.value()) {
    cv_text = d->change_vector;
    current.resolved = (d->flags & kResolved) != 0;
    if (d->flags & kHasAttachments) {
      boost::system::error_code ec;
      json::value v = json::parse(d->json, ec);
      if (ec || !v.is_object()) return Status::Corruption("stored document '" + d->id + "' is not a JSON object");
      const auto* md = v.as_object().if_contains("@metadata");
      const auto* list = md && md->is_object() ? md->as_object().if_contains("@attachments") : nullptr;
      if (list && list->is_array()) {
        for (const auto& e : list->as_array()) {
          const auto* n = e.is_object() ? e.as_object().if_contains("Name") : nullptr;
          const auto* h = e.is_object() ? e.as_object().if_contains("Hash") : nullptr;
          if (n && n->is_string() && h && h->is_string())
            current.listed.emplace(lower_id(n->as_string()), std::string(h->as_string()));
        }
      }
    }
  } else {
    auto raw = txn.read(Family::Tombstones, lower_id(document_id));
    if (!raw.ok()) return raw.status();
    if (!raw.value()) return std::optional<CurrentVersion>();
    auto t = decode_tombstone(*raw.value());
    if (!t.ok()) return t.status();
    cv_text = t->change_vector;
  }
  auto cv = ChangeVector::parse(cv_text);
  if (!cv.ok()) return Status::Corruption("stored change vector of '" + std::string(document_id) + "'");
  current.change_vector = std::move(cv).value();
  return std::optional<CurrentVersion>(std::move(current));
}

Result<ChangeVector> record_change_vector(const AttachmentInfo& a) {
  auto cv = ChangeVector::parse(a.change_vector);
  if (!cv.ok()) return Status::Corruption("stored change vector of attachment '" + a.name + "'");
  return std::move(cv).value();
}

// The version has seen the attachment's change (its change vector covers it).
bool covers(const CurrentVersion& current, const ChangeVector& attachment_cv) {
  const ChangeVectorOrder order = current.change_vector.compare(attachment_cv);
  return order == ChangeVectorOrder::Newer || order == ChangeVectorOrder::Equal;
}

// The version has seen the attachment's change and does not list that
// attachment (same name and bytes): it moved past it.
bool moved_past(const CurrentVersion& current, const ChangeVector& attachment_cv, const AttachmentInfo& a) {
  if (!covers(current, attachment_cv)) return false;
  auto it = current.listed.find(lower_id(a.name));
  return it == current.listed.end() || it->second != a.hash;
}

// Keeps `a` as an alternate of the attachment under `key`; its reference must
// already be counted. One alternate per hash: a second one of the same bytes
// gives its reference back.
Status keep_alternate(WriteTransaction& txn, const std::string& key, AttachmentInfo a) {
  const std::string alt = alternate_key(key, a.hash);
  auto existing = read_in_txn(txn, alt);
  if (!existing.ok()) return existing.status();
  if (existing.value()) return drop_reference(txn, a.hash);
  a.etag = 0;
  txn.put_raw(Family::Attachments, alt, encode_attachment(a));
  return Status::Ok();
}

// Makes `a` (whose reference is counted) the attachment under `key`, in place
// of `replaced` (nullopt: none), under a new etag.
Status install_primary(WriteTransaction& txn, const std::string& key, AttachmentInfo a,
                       const std::optional<AttachmentInfo>& replaced) {
  if (replaced) txn.unindex_etag(replaced->etag);
  else if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, 1); !s.ok()) return s;
  a.etag = txn.next_etag();
  txn.put_raw(Family::Attachments, key, encode_attachment(a));
  txn.index_etag(a.etag, kEtagOfAttachment, key);
  return Status::Ok();
}

}  // namespace

Result<ReplicatedAttachment> put_replicated_attachment(WriteTransaction& txn, AttachmentInfo incoming) {
  if (incoming.document_id.empty()) return Status::InvalidArgument("a replicated attachment needs a document id");
  if (Status s = validate_attachment_name(incoming.name); !s.ok()) return s;
  if (incoming.hash.empty()) return Status::InvalidArgument("a replicated attachment needs a hash");
  auto cv = ChangeVector::parse(incoming.change_vector);
  if (!cv.ok()) return Status::InvalidArgument("replicated attachment: " + cv.status().message());
  if (cv->empty()) return Status::InvalidArgument("a replicated attachment needs a change vector");
  if (auto blob = txn.storage().blob_store()->open_blob(incoming.hash); !blob.ok()) {
    if (!blob.status().is_not_found()) return blob.status();
    return Status::InvalidArgument("the bytes of attachment '" + incoming.name + "' of document '" +
                                   incoming.document_id + "' (hash " + incoming.hash + ") are not stored here");
  }
  incoming.change_vector = cv->to_string();
  txn.note_change_vector(cv.value());  // seen, whatever happens to it

  const std::string key = attachment_key(incoming.document_id, incoming.name);
  auto current = current_version(txn, incoming.document_id);
  if (!current.ok()) return current.status();
  if (current.value() && moved_past(*current.value(), cv.value(), incoming)) {
    if (!current.value()->resolved) return ReplicatedAttachment::Ignored;
    // Not listed by a resolution: the losing side may come back (see CurrentVersion).
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = keep_alternate(txn, key, std::move(incoming)); !s.ok()) return s;
    return ReplicatedAttachment::Kept;
  }

  auto existing = read_in_txn(txn, key);
  if (!existing.ok()) return existing.status();
  const std::optional<AttachmentInfo>& ours = existing.value();
  if (!ours) {
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = install_primary(txn, key, std::move(incoming), ours); !s.ok()) return s;
    return ReplicatedAttachment::Stored;
  }
  auto ours_cv = record_change_vector(*ours);
  if (!ours_cv.ok()) return ours_cv.status();
  const ChangeVectorOrder order = cv->compare(ours_cv.value());
  // The document here is the arbiter when it lists one of the two: under
  // ResolveToLatest a version listing an older record can win over one listing
  // a newer record. Otherwise the change vectors decide, and between
  // concurrent ones the larger text, as on every member.
  const std::string* listed = nullptr;
  if (const auto& doc = current.value()) {
    if (auto it = doc->listed.find(lower_id(incoming.name)); it != doc->listed.end()) listed = &it->second;
  }
  const bool incoming_listed = listed && *listed == incoming.hash;
  const bool ours_listed = listed && *listed == ours->hash;
  bool incoming_wins = order == ChangeVectorOrder::Newer ||
                       (order == ChangeVectorOrder::Concurrent && incoming.change_vector > ours->change_vector);
  if (incoming_listed != ours_listed) incoming_wins = incoming_listed;
  if (!incoming_wins) {
    if (order == ChangeVectorOrder::Older || order == ChangeVectorOrder::Equal) return ReplicatedAttachment::Ignored;
    // Newer or concurrent but not chosen: it waits as an alternate.
    if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
    if (Status s = keep_alternate(txn, key, std::move(incoming)); !s.ok()) return s;
    return ReplicatedAttachment::Kept;
  }
  // The new reference first: a record replaced by one with the same bytes keeps its blob.
  if (Status s = add_reference(txn, incoming.hash); !s.ok()) return s;
  // Ours goes only when it is simply superseded (a newer record it is not
  // listed against); otherwise a version may still pick it: it waits.
  if (order == ChangeVectorOrder::Newer && !ours_listed) {
    if (Status s = drop_reference(txn, ours->hash); !s.ok()) return s;
  } else if (Status s = keep_alternate(txn, key, *ours); !s.ok()) {
    return s;
  }
  if (Status s = install_primary(txn, key, std::move(incoming), ours); !s.ok()) return s;
  return order == ChangeVectorOrder::Newer ? ReplicatedAttachment::Stored : ReplicatedAttachment::Replaced;
}

Status drop_unlisted_attachments(WriteTransaction& txn, std::string_view document_id) {
  // Most documents have no records: one seek, and the document is not read.
  auto records = records_of(txn, document_id);
  if (!records.ok()) return records.status();
  if (records->primaries.empty() && records->alternates.empty()) return Status::Ok();
  auto current_or = current_version(txn, document_id);
  if (!current_or.ok()) return current_or.status();
  if (!current_or.value()) return Status::Ok();
  const CurrentVersion& current = *current_or.value();

  // A listed attachment whose record waits as an alternate takes its place;
  // the record in place goes if the version has seen it, else waits in turn.
  for (const auto& [name, hash] : current.listed) {
    auto primary = records->primaries.find(name);
    if (primary != records->primaries.end() && primary->second.info.hash == hash) continue;
    auto [first, last] = records->alternates.equal_range(name);
    auto alt = std::find_if(first, last, [&](const auto& e) { return e.second.info.hash == hash; });
    if (alt == last) continue;
    Records::Entry promoted = alt->second;
    records->alternates.erase(alt);
    txn.erase_raw(Family::Attachments, promoted.key);
    std::optional<AttachmentInfo> replaced;
    std::string key = attachment_key(document_id, promoted.info.name);
    if (primary != records->primaries.end()) {
      replaced = primary->second.info;
      auto cv = record_change_vector(*replaced);
      if (!cv.ok()) return cv.status();
      if (covers(current, cv.value()) && !current.resolved) {
        if (Status s = drop_reference(txn, replaced->hash); !s.ok()) return s;
      } else if (Status s = keep_alternate(txn, key, *replaced); !s.ok()) {
        return s;
      }
      key = primary->second.key;
      records->primaries.erase(primary);
    }
    if (Status s = install_primary(txn, key, promoted.info, replaced); !s.ok()) return s;
  }
  // What the version has seen and does not list goes; after a resolution it
  // waits as an alternate instead (the losing side may come back).
  for (const auto& [name, e] : records->primaries) {
    auto cv = record_change_vector(e.info);
    if (!cv.ok()) return cv.status();
    if (!moved_past(current, cv.value(), e.info)) continue;
    if (!current.resolved) {
      if (Status s = drop_record(txn, e.key, e.info); !s.ok()) return s;
      continue;
    }
    txn.erase_raw(Family::Attachments, e.key);
    txn.unindex_etag(e.info.etag);
    if (Status s = txn.adjust_count(meta_keys::kAttachmentCount, -1); !s.ok()) return s;
    if (Status s = keep_alternate(txn, e.key, e.info); !s.ok()) return s;  // keeps its reference
  }
  if (current.resolved) return Status::Ok();
  for (const auto& [name, e] : records->alternates) {
    auto cv = record_change_vector(e.info);
    if (!cv.ok()) return cv.status();
    if (moved_past(current, cv.value(), e.info)) {
      if (Status s = drop_alternate(txn, e.key, e.info); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status reship_resolved_attachments(WriteTransaction& txn, std::string_view document_id) {
  auto records = records_of(txn, document_id);
  if (!records.ok()) return records.status();
  if (records->primaries.empty()) return Status::Ok();
  auto current = current_version(txn, document_id);
  if (!current.ok()) return current.status();
  if (!current.value() || !current.value()->resolved) return Status::Ok();
  for (const auto& [name, e] : records->primaries) {
    auto listed = current.value()->listed.find(name);
    if (listed == current.value()->listed.end() || listed->second != e.info.hash) continue;
    AttachmentInfo a = e.info;
    txn.unindex_etag(a.etag);
    a.etag = txn.next_etag();
    txn.put_raw(Family::Attachments, e.key, encode_attachment(a));
    txn.index_etag(a.etag, kEtagOfAttachment, e.key);
  }
  return Status::Ok();
}

}  // namespace corvus::storage
