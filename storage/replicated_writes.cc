#include "storage/replicated_writes.h"

#include <tuple>
#include <vector>

#include <boost/json/parse.hpp>

#include "storage/change_vector.h"
#include "storage/conflicts_storage.h"
#include "storage/document.h"
#include "storage/revisions_storage.h"
#include "storage/write_transaction.h"

namespace corvus::storage {
namespace {

constexpr uint32_t kDocumentFlagsMask = ~(kRevision | kDeleteRevision | kConflicted | kResolved);

// One version of the document, ours or theirs, in one shape: a deletion has
// no JSON. The JSON stays text until a decision needs the body (a conflict, a
// store): most versions that arrive are newer or already here, and deciding
// that takes only the change vectors.
struct Version {
  std::string id;
  std::string collection;
  ChangeVector cv;
  int64_t last_modified_us = 0;
  uint32_t flags = 0;
  std::optional<std::string> json;  // the whole document, @metadata included
  bool ours = false;                // read from this database (a bad body is corruption here)
};

Result<boost::json::object> body_of(const Version& v) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(*v.json, ec);
  if (ec || !parsed.is_object()) {
    if (v.ours) return Status::Corruption("stored document '" + v.id + "' is not a JSON object");
    return Status::InvalidArgument("replicated document '" + v.id + "' is not a JSON object");
  }
  return std::move(parsed.as_object());
}

// Our current version: the document, or its tombstone, or nothing.
Result<std::optional<Version>> local_version(WriteTransaction& txn, const std::string& id) {
  auto doc = txn.get(id);
  if (!doc.ok()) return doc.status();
  Version v;
  v.ours = true;
  std::string cv_text;
  if (auto& d = doc.value()) {
    v.id = std::move(d->id);
    v.collection = std::move(d->collection);
    v.last_modified_us = d->last_modified_us;
    v.flags = d->flags;
    v.json = std::move(d->json);
    cv_text = std::move(d->change_vector);
  } else {
    auto raw = txn.read(Family::Tombstones, lower_id(id));
    if (!raw.ok()) return raw.status();
    if (!raw.value()) return std::optional<Version>();
    auto t = decode_tombstone(*raw.value());
    if (!t.ok()) return t.status();
    v.id = std::move(t->id);
    v.collection = std::move(t->collection);
    v.last_modified_us = t->deleted_at_us;
    cv_text = std::move(t->change_vector);
  }
  auto cv = ChangeVector::parse(cv_text);
  if (!cv.ok()) return Status::Corruption("stored change vector of '" + id + "': " + cv.status().message());
  v.cv = std::move(cv).value();
  return std::optional<Version>(std::move(v));
}

// Same content: both deletions, or both documents whose bodies (without
// @metadata) are equal JSON.
Result<bool> same_content(const Version& a, const Version& b) {
  if (!a.json || !b.json) return !a.json && !b.json;
  auto x = body_of(a);
  if (!x.ok()) return x.status();
  auto y = body_of(b);
  if (!y.ok()) return y.status();
  x->erase("@metadata");
  y->erase("@metadata");
  return x.value() == y.value();
}

// Makes `v` the current version of its document with change vector `cv`.
Status store(WriteTransaction& txn, const Version& v, const ChangeVector& cv, uint32_t flags) {
  // Resolved is the one flag a replicated document keeps beside its own.
  const ExternalVersion version{cv.to_string(), v.last_modified_us, (flags & kDocumentFlagsMask) | (flags & kResolved)};
  if (!v.json) {
    auto doc = txn.get(v.id);
    if (!doc.ok()) return doc.status();
    if (doc.value()) return txn.remove(v.id, std::nullopt, &version).status();
    return txn.put_tombstone(v.id, v.collection, version);
  }
  auto parsed = body_of(v);
  if (!parsed.ok()) return parsed.status();
  boost::json::object body = std::move(parsed).value();
  auto& metadata = body["@metadata"];
  if (!metadata.is_object()) metadata.emplace_object();
  if (v.collection.empty()) metadata.as_object().erase("@collection");
  else metadata.as_object()["@collection"] = v.collection;
  return txn.put(v.id, std::move(body), std::nullopt, &version).status();
}

// The version as a Document (revision or conflict entry); no JSON = deletion.
Document as_document(const Version& v) {
  Document d;
  d.id = v.id;
  d.collection = v.collection;
  d.change_vector = v.cv.to_string();
  d.last_modified_us = v.last_modified_us;
  d.flags = (v.flags & kDocumentFlagsMask) | (v.flags & kResolved);
  if (v.json) d.json = *v.json;
  else d.flags |= kDeleteRevision;
  return d;
}

Status keep_loser(WriteTransaction& txn, const Version& loser) {
  Document d = as_document(loser);
  d.flags |= kConflicted;
  return RevisionsStorage::put_external(txn, std::move(d)).status();
}

// A version held in conflict (a conflicts-family Document) as a Version.
Result<Version> held_version(const Document& d) {
  Version v{d.id, d.collection, {}, d.last_modified_us, (d.flags & kDocumentFlagsMask) | (d.flags & kResolved),
            std::nullopt, true};
  if (!(d.flags & kDeleteRevision)) v.json = d.json;
  auto cv = ChangeVector::parse(d.change_vector);
  if (!cv.ok()) return Status::Corruption("stored conflict of '" + d.id + "': " + cv.status().message());
  v.cv = std::move(cv).value();
  return v;
}

// The document is already in conflict. The conflict is kept to the versions
// no other supersedes, those of the same content merged (as in apply()), so
// every member that has seen the same versions holds the same conflict, in
// whatever order they came: a version that one of them covers is ignored; the
// ones the incoming version supersedes leave the conflict (kept as Conflicted
// revisions); when none is left the incoming version is the document again.
Result<ReplicatedOutcome> apply_to_conflict(WriteTransaction& txn, Version incoming,
                                            const std::vector<Document>& conflicts) {
  std::vector<std::pair<Document, Version>> held;
  for (const Document& c : conflicts) {
    auto v = held_version(c);
    if (!v.ok()) return v.status();
    const ChangeVectorOrder order = incoming.cv.compare(v->cv);
    if (order == ChangeVectorOrder::Older || order == ChangeVectorOrder::Equal) {
      txn.note_change_vector(incoming.cv);
      return ReplicatedOutcome::Ignored;
    }
    held.emplace_back(c, std::move(v).value());
  }
  bool merged_any = false;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = held.begin(); it != held.end(); ++it) {
      const Version& h = it->second;
      const bool superseded = incoming.cv.compare(h.cv) == ChangeVectorOrder::Newer;
      if (!superseded) {
        auto same = same_content(h, incoming);
        if (!same.ok()) return same.status();
        if (!same.value()) continue;
      }
      if (!superseded) {
        // The same content: one version with both change vectors and the
        // later metadata, as apply() merges them (a merge can make it
        // supersede more, hence the loop).
        ChangeVector cv = h.cv;
        cv.merge(incoming.cv);
        if (std::make_tuple(h.last_modified_us, h.cv.to_string()) >
            std::make_tuple(incoming.last_modified_us, incoming.cv.to_string())) {
          incoming = h;
        }
        incoming.cv = std::move(cv);
        merged_any = true;
      }
      if (Status s = ConflictsStorage::supersede(txn, std::move(it->first)); !s.ok()) return s;
      held.erase(it);
      changed = true;
      break;
    }
  }
  if (held.empty()) {
    if (Status s = store(txn, incoming, incoming.cv, incoming.flags); !s.ok()) return s;
    return merged_any ? ReplicatedOutcome::Merged : ReplicatedOutcome::Stored;
  }
  if (Status s = ConflictsStorage::add(txn, as_document(incoming)); !s.ok()) return s;
  return ReplicatedOutcome::Conflicted;
}

}  // namespace

Result<ReplicatedOutcome> ReplicatedWrites::apply(WriteTransaction& txn, IncomingVersion in, ConflictPolicy policy) {
  if (in.id.empty()) return Status::InvalidArgument("a replicated version needs a document id");
  auto parsed = ChangeVector::parse(in.change_vector);
  if (!parsed.ok()) return parsed.status();
  if (parsed->empty()) return Status::InvalidArgument("replicated version of '" + in.id + "' has no change vector");
  Version incoming{in.id, in.collection, std::move(parsed).value(), in.last_modified_us, in.flags, std::move(in.json)};

  auto conflicts = ConflictsStorage::in_transaction(txn, incoming.id);
  if (!conflicts.ok()) return conflicts.status();
  if (!conflicts->empty()) return apply_to_conflict(txn, std::move(incoming), conflicts.value());

  auto local_or = local_version(txn, incoming.id);
  if (!local_or.ok()) return local_or.status();
  const std::optional<Version>& local = local_or.value();
  const ChangeVectorOrder order = local ? incoming.cv.compare(local->cv) : ChangeVectorOrder::Newer;
  if (order == ChangeVectorOrder::Newer) {
    if (Status s = store(txn, incoming, incoming.cv, incoming.flags); !s.ok()) return s;
    return ReplicatedOutcome::Stored;
  }
  if (order != ChangeVectorOrder::Concurrent) {
    txn.note_change_vector(incoming.cv);
    return ReplicatedOutcome::Ignored;
  }

  ChangeVector merged = local->cv;
  merged.merge(incoming.cv);
  // Every member compares the same two versions the same way: the later
  // last-modified, ties broken by the larger canonical change vector text.
  const bool incoming_later = std::make_tuple(incoming.last_modified_us, incoming.cv.to_string()) >
                              std::make_tuple(local->last_modified_us, local->cv.to_string());
  auto same = same_content(*local, incoming);
  if (!same.ok()) return same.status();
  if (same.value()) {
    // The same choice of metadata (last-modified) on both sides, or they
    // would hold the same version with different text.
    // Not flagged Resolved, even when the lists beside the document
    // (@attachments, @counters) differ: members reach the same merge through
    // different pairs of versions, and only what the chosen version carries
    // is the same on all of them.
    const Version& kept = incoming_later ? incoming : *local;
    if (Status s = store(txn, kept, merged, kept.flags); !s.ok()) return s;
    return ReplicatedOutcome::Merged;
  }
  // Cluster-wide transactions are ordered by Raft, not by change vectors: of
  // two concurrent versions, the one a later cluster-wide transaction wrote
  // wins whatever the policy (rachis/README.md, "Cluster-wide transactions and
  // ordinary writes"); the other is kept as a revision like any loser.
  const uint64_t incoming_tx = incoming.cv.etag_of(kClusterTransactionTag);
  const uint64_t local_tx = local->cv.etag_of(kClusterTransactionTag);
  if (incoming_tx != local_tx) {
    const Version& winner = incoming_tx > local_tx ? incoming : *local;
    if (Status s = keep_loser(txn, incoming_tx > local_tx ? *local : incoming); !s.ok()) return s;
    if (Status s = store(txn, winner, merged, winner.flags | kResolved); !s.ok()) return s;
    return incoming_tx > local_tx ? ReplicatedOutcome::IncomingWon : ReplicatedOutcome::LocalWon;
  }
  if (policy == ConflictPolicy::KeepConflict) {
    if (Status s = txn.erase_current(incoming.id); !s.ok()) return s;
    if (Status s = ConflictsStorage::add(txn, as_document(*local)); !s.ok()) return s;
    if (Status s = ConflictsStorage::add(txn, as_document(incoming)); !s.ok()) return s;
    return ReplicatedOutcome::Conflicted;
  }
  // ResolveToLatest.
  const bool incoming_wins = incoming_later;
  const Version& winner = incoming_wins ? incoming : *local;
  const Version& loser = incoming_wins ? *local : incoming;
  if (Status s = keep_loser(txn, loser); !s.ok()) return s;
  if (Status s = store(txn, winner, merged, winner.flags | kResolved); !s.ok()) return s;
  return incoming_wins ? ReplicatedOutcome::IncomingWon : ReplicatedOutcome::LocalWon;
}

}  // namespace corvus::storage
