#pragma once
// The body of a stored document as JSON, for the query module's readers (the
// indexing thread, the runner). A document that does not parse is corrupt
// storage, reported as such. Free function, any thread.

#include <boost/json/value.hpp>

#include "storage/document.h"
#include "storage/status.h"

namespace corvus::query {

Result<boost::json::value> parse_document_body(const storage::Document& doc);

}  // namespace corvus::query
