#pragma once
// The one table that maps a Status to an HTTP status code and RavenDB's error body
// {"Url","Type","Message","Error"} (STYLE.md "Errors", REST.md §0.3).
//
// Type names are chosen so the official npm client maps them to a sensible class
// (it strips "Raven.Client.Exceptions." and takes the last dot-segment). Pure
// functions; thread-safe.
//
//   NotFound             404 Raven.Client.Exceptions.Documents.DocumentDoesNotExistException
//   ConcurrencyConflict  409 Raven.Client.Exceptions.ConcurrencyException
//   AlreadyExists        409 Raven.Client.Exceptions.ConcurrencyException
//   InvalidArgument      400 Raven.Client.Exceptions.BadRequestException
//   AccessDenied         403 Raven.Client.Exceptions.Security.AuthorizationException
//   Timeout              408 System.TimeoutException
//   NotLeader            503 Raven.Client.Exceptions.Cluster.NoLeaderException (hint in Message)
//   Busy                 503 Raven.Client.Exceptions.Database.DatabaseConcurrentLoadTimeoutException
//   ShuttingDown         503 Raven.Client.Exceptions.Database.DatabaseDisabledException
//   IOError/Corruption/Internal (and Ok, which is a caller bug)  500 System.Exception

#include <string>
#include <string_view>

#include "server/http/response.h"
#include "storage/status.h"

namespace corvus::server::http {

// Body {"Url":url,"Type":type,"Message":message,"Error":message}, JSON-escaped.
Response error_response(unsigned status, std::string_view type, std::string_view message, std::string_view url);

// Maps `s` (must not be ok) through the table above.
Response error_response(const Status& s, std::string_view url);

struct ErrorMapping {
  unsigned status;
  std::string_view type;
};
ErrorMapping map_status(StatusCode code);

// Appends `s` as a JSON string literal (with quotes) to `out`.
void append_json_string(std::string& out, std::string_view s);

inline constexpr std::string_view kBadRequestType = "Raven.Client.Exceptions.BadRequestException";
inline constexpr std::string_view kRouteNotFoundType = "Raven.Client.Exceptions.Routing.RouteNotFoundException";
inline constexpr std::string_view kInternalErrorType = "System.Exception";

}  // namespace corvus::server::http
