#pragma once
// Commands on the cluster's client certificates (RavenDB's
// PutCertificateCommand / DeleteCertificateCommand, sent by
// PutClientCertificateOperation, EditClientCertificateOperation and
// DeleteCertificateOperation through /admin/certificates). The proposer
// parses and validates the certificate (server/security); apply stores or
// removes the record, keyed by thumbprint, in the certificates family.

#include <string>

#include "rachis/cluster/certificate_record.h"
#include "rachis/cluster/cluster_command.h"

namespace corvus::rachis::cluster {

// Registers a certificate or replaces the record with the same thumbprint
// (an edit). Result: the record as stored (its JSON).
struct PutCertificateCommand final : ClusterCommand {
  static constexpr std::string_view kType = "PutCertificate";
  CertificateRecord record;

  std::string_view type() const override { return kType; }
  // Introduced with format version 5: a node that runs 4 cannot apply it.
  std::uint32_t version() const override { return 5; }
  boost::json::object fields() const override { return {{"Certificate", record.to_json()}}; }
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

// Removes the certificate with `thumbprint`. Refused with NotFound (nothing
// changes) when there is none.
struct DeleteCertificateCommand final : ClusterCommand {
  static constexpr std::string_view kType = "DeleteCertificate";
  std::string thumbprint;

  std::string_view type() const override { return kType; }
  std::uint32_t version() const override { return 5; }
  boost::json::object fields() const override { return {{"Thumbprint", thumbprint}}; }
  CommandResult apply(ApplyContext& ctx) const override;
  static Result<std::unique_ptr<ClusterCommand>> decode(const boost::json::object& o);
};

}  // namespace corvus::rachis::cluster
