#pragma once
// Status and Result<T>: how every fallible call in Corvus reports failure.
//
// Lives in storage/ because storage is the lowest module that needs it; rachis,
// replication, server and the tests all include it from here. Value types, no
// allocation on the success path, safe to copy between threads.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace corvus {

enum class StatusCode {
  Ok,
  NotFound,
  ConcurrencyConflict,  // optimistic concurrency: expected change vector differs
  InvalidArgument,      // bad input from a caller; maps to HTTP 400
  AccessDenied,
  NotLeader,            // message carries the leader hint when known
  Timeout,
  Busy,
  ShuttingDown,
  IOError,
  Corruption,
  AlreadyExists,        // e.g. creating a database that exists; maps to 409
  Internal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(StatusCode::NotFound, std::move(msg)); }
  static Status ConcurrencyConflict(std::string msg) {
    return Status(StatusCode::ConcurrencyConflict, std::move(msg));
  }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::InvalidArgument, std::move(msg));
  }
  static Status AccessDenied(std::string msg) { return Status(StatusCode::AccessDenied, std::move(msg)); }
  static Status NotLeader(std::string leader_hint) {
    return Status(StatusCode::NotLeader, std::move(leader_hint));
  }
  static Status Timeout(std::string msg) { return Status(StatusCode::Timeout, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(StatusCode::Busy, std::move(msg)); }
  static Status ShuttingDown(std::string msg) { return Status(StatusCode::ShuttingDown, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(StatusCode::IOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(StatusCode::Corruption, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(StatusCode::AlreadyExists, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::Internal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::Ok; }
  bool is_not_found() const { return code_ == StatusCode::NotFound; }
  bool is_concurrency_conflict() const { return code_ == StatusCode::ConcurrencyConflict; }
  bool is_invalid_argument() const { return code_ == StatusCode::InvalidArgument; }
  bool is_not_leader() const { return code_ == StatusCode::NotLeader; }
  bool is_already_exists() const { return code_ == StatusCode::AlreadyExists; }
  bool is_busy() const { return code_ == StatusCode::Busy; }

  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

  // Marks an error as dropped on purpose, so such places can be searched for.
  void ignore_error() const {}

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

const char* status_code_name(StatusCode code);

inline std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(status_code_name(code_)) + ": " + message_;
}

inline const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::Ok: return "OK";
    case StatusCode::NotFound: return "NotFound";
    case StatusCode::ConcurrencyConflict: return "ConcurrencyConflict";
    case StatusCode::InvalidArgument: return "InvalidArgument";
    case StatusCode::AccessDenied: return "AccessDenied";
    case StatusCode::NotLeader: return "NotLeader";
    case StatusCode::Timeout: return "Timeout";
    case StatusCode::Busy: return "Busy";
    case StatusCode::ShuttingDown: return "ShuttingDown";
    case StatusCode::IOError: return "IOError";
    case StatusCode::Corruption: return "Corruption";
    case StatusCode::AlreadyExists: return "AlreadyExists";
    case StatusCode::Internal: return "Internal";
  }
  return "Unknown";
}

// Either a value or a non-OK Status. Constructing from an OK Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace corvus
