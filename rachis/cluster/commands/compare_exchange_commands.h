#pragma once
// Compare-exchange (RavenDB semantics): every key of a database has a value
// and an index, the Raft index of its last change. A put with index 0 creates
// only if absent; any other index must equal the key's current index. A
// failed check changes nothing and answers Successful: false with the current
// value and index. Keys compare case-insensitively and keep their spelling.

#include <optional>
#include <vector>

#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

// The longest key RavenDB accepts, in bytes.
inline constexpr std::size_t kMaxCompareExchangeKey = 512;
// InvalidArgument for an empty or too long key.
Status validate_compare_exchange_key(std::string_view key);

// One put or delete, checked and applied alone or inside a cluster-wide
// transaction.
struct CompareExchangeOp {
  enum class Kind { Put, Delete } kind = Kind::Put;
  std::string key;
  std::uint64_t expected_index = 0;
  std::string value_json;  // Put: {"Object": ..., "@metadata"?: ...}

  boost::json::object to_json() const;
  static Result<CompareExchangeOp> from_json(const boost::json::object& o);
};

// What an op would do against the state as of this entry: `ok` when its
// index check passes; `current` is the key's value before the op.
struct CompareExchangeCheck {
  bool ok = false;
  std::optional<CompareExchangeValue> current;
};
// IOError/Corruption when the state cannot be read (fatal to the caller).
Result<CompareExchangeCheck> check_compare_exchange(const ApplyContext& ctx, std::string_view database,
                                                    const CompareExchangeOp& op);
// Stages the op at ctx.index (precondition: its check passed).
void execute_compare_exchange(ApplyContext& ctx, std::string_view database, const CompareExchangeOp& op);

// Result: {"Successful", "Index", "Value"} as REST.md §5.4 shows.
struct CompareExchangeCommand final : ClusterCommand {
  static constexpr std::string_view kType = "CompareExchange";
  std::string database;
  CompareExchangeOp op;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
