#pragma once
// ClusterTransaction: a cluster-wide transaction (REST.md §3.3). Its
// compare-exchange part and its atomic guards are checked and applied here,
// all or nothing, at the transaction's Raft index. Its document part is
// stored in the cluster state (ClusterTx family) and applied to the database
// by every member in Raft order (server side: ClusterTransactionApplier).
//
// Atomic guards (RavenDB 5.2+): unless disabled, every document written gets
// a compare-exchange guard "rvn-atomic/<id>" whose index is the Raft index of
// the transaction that last wrote it. A document written cluster-wide gets
// the change vector "TRXN:<index>-<cluster transaction id>", the same on every
// node; a client that loaded it sends that back as OriginalChangeVector, and
// the guard must still have that index, so two sessions that read the same
// version cannot both overwrite it. A new document (no change vector) needs
// its guard to be absent.
//
// Result: {"Results": [one entry per command, in order]} on success; a
// failed check is ConcurrencyConflict naming every key that failed.

#include <vector>

#include "rachis/cluster/cluster_command.h"
#include "rachis/cluster/commands/compare_exchange_commands.h"

namespace corvus::rachis::cluster {

inline constexpr std::string_view kAtomicGuardPrefix = "rvn-atomic/";

// The Raft index a change vector carries for `transaction_id` ("TRXN:<n>-<id>"); 0 if none.
std::uint64_t cluster_transaction_index(std::string_view change_vector, std::string_view transaction_id);
std::string cluster_transaction_change_vector(std::uint64_t index, std::string_view transaction_id);

struct ClusterTransactionItem {
  enum class Kind { PutDocument, DeleteDocument, CompareExchange } kind = Kind::PutDocument;
  std::string id;                                  // documents
  boost::json::object document;                    // PutDocument
  std::optional<std::string> original_change_vector;  // documents
  CompareExchangeOp op;                            // CompareExchange
};

struct ClusterTransactionCommand final : ClusterCommand {
  static constexpr std::string_view kType = "ClusterTransaction";
  std::string database;
  std::vector<ClusterTransactionItem> items;
  bool disable_atomic_document_writes = false;
  std::int64_t last_modified_us = 0;  // the proposer's clock, so every node stores the same time

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 2; }
  boost::json::object fields() const override;
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
