#include "query/document_body.h"

#include <boost/json/parse.hpp>

namespace corvus::query {

Result<boost::json::value> parse_document_body(const storage::Document& doc) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(doc.json, ec);
  if (ec) return Status::Corruption("document " + doc.id + " holds unparsable JSON: " + ec.message());
  return v;
}

}  // namespace corvus::query
