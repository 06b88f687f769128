#include "server/handlers/stream_sources.h"

#include <algorithm>
#include <cstring>

#include "server/document_database.h"
#include "server/handlers/handler_support.h"
#include "server/logging/logger.h"
#include "storage/clock.h"

namespace corvus::server::handlers {

// ---- RenderedStream ---------------------------------------------------------

Status RenderedStream::prepare() {
  auto more = render_next();
  if (!more.ok()) return more.status();
  if (!more.value()) ended_ = true;
  return Status::Ok();
}

int64_t RenderedStream::read(char* out, size_t n) {
  size_t filled = 0;
  // Fill the whole chunk when results are small: one HTTP chunk per pull.
  while (filled < n) {
    if (pending_pos_ == pending_.size()) {
      pending_.clear();
      pending_pos_ = 0;
      if (ended_) break;
      auto more = render_next();
      if (!more.ok()) {
        log::warn("stream failed after its first bytes; cutting the response").kv("error", more.status().to_string());
        return -1;
      }
      if (!more.value()) ended_ = true;
      continue;
    }
    const size_t k = std::min(n - filled, pending_.size() - pending_pos_);
    std::memcpy(out + filled, pending_.data() + pending_pos_, k);
    filled += k;
    pending_pos_ += k;
  }
  // A result bigger than a chunk stays in pending_ for the next pull; the
  // buffer itself does not outlive it.
  if (pending_pos_ == pending_.size() && pending_.capacity() > (size_t{1} << 20)) std::string().swap(pending_);
  return static_cast<int64_t>(filled);
}

// ---- QueryResultsStream -----------------------------------------------------

QueryResultsStream::QueryResultsStream(std::shared_ptr<DocumentDatabase> db,
                                       std::shared_ptr<const QueryRequest> request,
                                       std::shared_ptr<query::QueryRunner> runner, StreamFormat format)
    : db_(std::move(db)), request_(std::move(request)), runner_(std::move(runner)), format_(format) {}

Result<bool> QueryResultsStream::render_next() {
  if (done_) return false;
  if (!started_) {
    started_ = true;
    if (format_ == StreamFormat::Json) pending_ += "{\"Results\":[";
  }
  auto next = runner_->next();
  if (!next.ok()) return next.status();
  if (next.value()) {
    if (format_ == StreamFormat::Json) {
      if (!first_) pending_ += ',';
      pending_ += *next.value();
    } else {
      pending_ += "{\"Item\":";
      pending_ += *next.value();
      pending_ += "}\n";
    }
    first_ = false;
    return true;
  }
  done_ = true;
  if (format_ == StreamFormat::Json) {
    pending_ += "],";
    pending_ += statistics_json();
    pending_ += '}';
  } else {
    pending_ += "{\"Stats\":{";
    pending_ += statistics_json();
    pending_ += "}}\n";
  }
  return true;
}

// The statistics' members, without braces (RavenDB's StreamQueryStatistics).
std::string QueryResultsStream::statistics_json() const {
  const auto& stats = runner_->statistics();
  return "\"IndexName\":" + json_string(stats.index_name) + ",\"IsStale\":" + (stats.is_stale ? "true" : "false") +
         ",\"TotalResults\":" + std::to_string(stats.total_results) +
         ",\"ResultEtag\":" + std::to_string(static_cast<int64_t>(runner_->result_etag())) +
         ",\"IndexTimestamp\":" + json_string(storage::format_iso8601(stats.index_timestamp_us));
}

// ---- DocumentsStream --------------------------------------------------------

DocumentsStream::DocumentsStream(std::shared_ptr<DocumentDatabase> db, DocumentsSelection selection,
                                 StreamFormat format)
    : db_(std::move(db)), selection_(std::move(selection)), format_(format) {
  // The snapshot is taken now, when the request is answered: the stream is
  // that point in time however long the client takes to read it.
  snapshot_ = std::make_unique<storage::DocumentSnapshot>(db_->storage());
  cursor_ = selection_.prefix.empty() ? snapshot_->scan_all_descending()
                                      : snapshot_->scan_id_prefix(selection_.prefix, selection_.start_after);
}

bool DocumentsStream::selected(const storage::Document& doc) const {
  if (selection_.prefix.empty()) return true;
  const std::string_view rest = std::string_view(doc.id).substr(std::min(doc.id.size(), selection_.prefix.size()));
  if (!selection_.matches.empty() && !selection_.matches.any_matches(rest)) return false;
  if (!selection_.exclude.empty() && selection_.exclude.any_matches(rest)) return false;
  return true;
}

Result<bool> DocumentsStream::render_next() {
  if (done_) return false;
  const bool json = format_ == StreamFormat::Json;
  if (!started_) {
    started_ = true;
    if (json) pending_ += "{\"Results\":[";
  }
  while (emitted_ < selection_.take) {
    auto doc = cursor_->next();
    if (!doc.ok()) return doc.status();
    if (!doc.value()) break;
    if (!selected(*doc.value())) continue;
    if (skipped_ < selection_.start) {
      ++skipped_;
      continue;
    }
    if (json && emitted_ > 0) pending_ += ',';
    pending_ += doc.value()->json;
    if (!json) pending_ += '\n';
    ++emitted_;
    return true;
  }
  done_ = true;
  // The snapshot pins storage files: let go as soon as the last document is read.
  cursor_.reset();
  snapshot_.reset();
  if (json) pending_ += "]}";
  return true;
}

}  // namespace corvus::server::handlers
