#pragma once
// A bulk_docs batch with attachment streams (REST.md §3.2), read as it
// arrives: part "main" (the JSON commands, at most kMaxBatchJsonBytes) into
// memory, every following part straight into the database's BlobStore, one
// chunk at a time, so a batch carrying gigabytes holds a chunk of memory.
// Each stored part is pinned (BatchParseContext::attachment_streams) until the
// batch is done with it; a batch that fails drops the pins and the blobs
// without a reference are collected. Runs on the connection's strand.

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/json/value.hpp>

#include "server/document_database.h"
#include "server/handlers/batch_commands.h"
#include "server/http/request.h"

namespace corvus::server::handlers {

inline constexpr size_t kMaxBatchJsonBytes = 64u << 20;

// `done` is called once: the parsed "main" JSON (or what was wrong with the
// body: InvalidArgument, or the storage error), the stored parts, and how many
// body bytes were read.
using MultipartBatchDone = std::function<void(Result<boost::json::value> main, BatchParseContext context,
                                              uint64_t body_bytes)>;
void read_multipart_batch(std::shared_ptr<DocumentDatabase> db, const http::Request& req, MultipartBatchDone done);

}  // namespace corvus::server::handlers
