#include "rachis/snapshot_stream.h"

#include "rachis/wire.h"

namespace corvus::rachis {
namespace {

constexpr std::string_view kDescriptorMagic = "corvus-streamed-snapshot";
constexpr std::uint8_t kDescriptorVersion = 1;

}  // namespace

std::string encode_snapshot_descriptor(core::Index index) {
  BufWriter w;
  w.bytes(kDescriptorMagic);
  w.u8(kDescriptorVersion);
  w.u64(index);
  return std::move(w.str());
}

bool decode_snapshot_descriptor(std::string_view data, core::Index* index) {
  BufReader r(data);
  std::string magic;
  std::uint8_t version = 0;
  return r.bytes(&magic) && magic == kDescriptorMagic && r.u8(&version) && version == kDescriptorVersion &&
         r.u64(index) && r.done();
}

}  // namespace corvus::rachis
