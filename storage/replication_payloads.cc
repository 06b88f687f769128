#include "storage/replication_payloads.h"

#include "storage/byte_codec.h"

namespace corvus::storage {
namespace {

constexpr char kCounterPayloadVersion = 1;
constexpr char kAttachmentPayloadVersion = 1;

}  // namespace

std::string encode_counter_payload(std::string_view document_id, std::string_view counter_value_encoding) {
  std::string out(1, kCounterPayloadVersion);
  put_str(out, document_id);
  out.append(counter_value_encoding);
  return out;
}

Result<CounterPayload> decode_counter_payload(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != kCounterPayloadVersion)
    return Status::InvalidArgument("not a counter payload (unknown version)");
  ByteReader r{bytes.substr(1)};
  CounterPayload p;
  p.document_id = r.str();
  if (r.bad) return Status::InvalidArgument("truncated counter payload");
  auto value = CounterValue::decode(r.in);
  if (!value.ok()) return Status::InvalidArgument(value.status().message());
  p.value = std::move(value).value();
  return p;
}

std::string encode_attachment_payload(const AttachmentInfo& a) {
  std::string out(1, kAttachmentPayloadVersion);
  put_str(out, a.document_id);
  put_str(out, a.name);
  put_str(out, a.content_type);
  put_str(out, a.hash);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((a.size >> (i * 8)) & 0xff));
  put_str(out, a.change_vector);
  return out;
}

Result<AttachmentInfo> decode_attachment_payload(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != kAttachmentPayloadVersion)
    return Status::InvalidArgument("not an attachment payload (unknown version)");
  ByteReader r{bytes.substr(1)};
  AttachmentInfo a;
  a.document_id = r.str();
  a.name = r.str();
  a.content_type = r.str();
  a.hash = r.str();
  a.size = r.u(8);
  a.change_vector = r.str();
  if (r.bad) return Status::InvalidArgument("truncated attachment payload");
  if (!r.in.empty()) return Status::InvalidArgument("trailing bytes after an attachment payload");
  return a;
}

}  // namespace corvus::storage
