#include "rachis/cluster/commands/certificate_commands.h"

#include <boost/json.hpp>

#include "rachis/cluster/json_fields.h"

namespace corvus::rachis::cluster {
namespace json = boost::json;

Result<std::unique_ptr<ClusterCommand>> PutCertificateCommand::decode(const json::object& o) {
  auto* cert = o.if_contains("Certificate");
  if (!cert || !cert->is_object()) return Status::InvalidArgument("needs Certificate");
  auto record = CertificateRecord::from_json(cert->as_object());
  if (!record.ok()) return record.status();
  auto c = std::make_unique<PutCertificateCommand>();
  c->record = std::move(record).value();
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult PutCertificateCommand::apply(ApplyContext& ctx) const {
  // Validated by the proposer and by decode; checked again so that no path
  // (a hand-built command) stores a record the policy cannot judge.
  if (Status s = record.validate(); !s.ok()) return {s, nullptr};
  ctx.batch.put_certificate(record);
  return {Status::Ok(), record.to_json()};
}

Result<std::unique_ptr<ClusterCommand>> DeleteCertificateCommand::decode(const json::object& o) {
  auto c = std::make_unique<DeleteCertificateCommand>();
  c->thumbprint = get_string(o, "Thumbprint");
  if (c->thumbprint.empty()) return Status::InvalidArgument("needs Thumbprint");
  return std::unique_ptr<ClusterCommand>(std::move(c));
}

CommandResult DeleteCertificateCommand::apply(ApplyContext& ctx) const {
  if (!ctx.state.certificate(thumbprint)) {
    return {Status::NotFound("no certificate with thumbprint '" + thumbprint + "' is registered"), nullptr};
  }
  ctx.batch.delete_certificate(thumbprint);
  return {Status::Ok(), nullptr};
}

}  // namespace corvus::rachis::cluster
