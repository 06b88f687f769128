#include "rachis/wire.h"

#include <memory>

namespace corvus::rachis {

using core::Entry;
using core::HardState;
using core::Message;
using core::SnapshotMeta;

bool BufReader::u8(std::uint8_t* v) {
  if (in_.size() - pos_ < 1) return false;
  *v = static_cast<std::uint8_t>(in_[pos_++]);
  return true;
}

bool BufReader::u32(std::uint32_t* v) {
  if (in_.size() - pos_ < 4) return false;
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x |= std::uint32_t(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
  pos_ += 4;
  *v = x;
  return true;
}

bool BufReader::u64(std::uint64_t* v) {
  if (in_.size() - pos_ < 8) return false;
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x |= std::uint64_t(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
  pos_ += 8;
  *v = x;
  return true;
}

bool BufReader::bytes(std::string* v) {
  std::uint32_t n = 0;
  if (!u32(&n) || in_.size() - pos_ < n) return false;
  v->assign(in_.substr(pos_, n));
  pos_ += n;
  return true;
}

void write_entry(BufWriter& w, const Entry& e) {
  w.u64(e.term);
  w.u64(e.index);
  w.u8(static_cast<std::uint8_t>(e.type));
  w.bytes(e.data);
}

bool read_entry(BufReader& r, Entry* e) {
  std::uint8_t type = 0;
  if (!r.u64(&e->term) || !r.u64(&e->index) || !r.u8(&type) || !r.bytes(&e->data)) return false;
  if (type > static_cast<std::uint8_t>(core::EntryType::Noop)) return false;
  e->type = static_cast<core::EntryType>(type);
  return true;
}

std::string encode_entry(const Entry& e) {
  BufWriter w;
  w.u8(kWireVersion);
  write_entry(w, e);
  return std::move(w.str());
}

bool decode_entry(std::string_view bytes, Entry* e) {
  BufReader r(bytes);
  std::uint8_t v = 0;
  return r.u8(&v) && v == kWireVersion && read_entry(r, e) && r.done();
}

std::string encode_hard_state(const HardState& hs) {
  BufWriter w;
  w.u8(kWireVersion);
  w.u64(hs.term);
  w.u64(hs.vote);
  w.u64(hs.commit);
  return std::move(w.str());
}

bool decode_hard_state(std::string_view bytes, HardState* hs) {
  BufReader r(bytes);
  std::uint8_t v = 0;
  return r.u8(&v) && v == kWireVersion && r.u64(&hs->term) && r.u64(&hs->vote) && r.u64(&hs->commit) && r.done();
}

namespace {

void write_meta(BufWriter& w, const SnapshotMeta& m) {
  w.u64(m.index);
  w.u64(m.term);
  w.bytes(core::encode_configuration(m.config));
}

bool read_meta(BufReader& r, SnapshotMeta* m) {
  std::string config;
  if (!r.u64(&m->index) || !r.u64(&m->term) || !r.bytes(&config)) return false;
  auto c = core::decode_configuration(config);
  if (!c) return false;
  m->config = std::move(*c);
  return true;
}

}  // namespace

std::string encode_snapshot_meta(const SnapshotMeta& meta) {
  BufWriter w;
  w.u8(kWireVersion);
  write_meta(w, meta);
  return std::move(w.str());
}

bool decode_snapshot_meta(std::string_view bytes, SnapshotMeta* meta) {
  BufReader r(bytes);
  std::uint8_t v = 0;
  return r.u8(&v) && v == kWireVersion && read_meta(r, meta) && r.done();
}

std::string encode_message(const Message& m) {
  BufWriter w;
  w.u8(kWireVersion);
  w.u8(static_cast<std::uint8_t>(m.type));
  w.u64(m.from);
  w.u64(m.to);
  w.u64(m.term);
  w.u64(m.last_index);
  w.u64(m.last_term);
  w.u8(m.transfer ? 1 : 0);
  w.u64(m.prev_index);
  w.u64(m.prev_term);
  w.u32(static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) write_entry(w, e);
  w.u64(m.commit);
  w.u8(m.reject ? 1 : 0);
  w.u64(m.index);
  w.u64(m.hint_index);
  w.u64(m.hint_term);
  w.u8(m.snapshot ? 1 : 0);
  if (m.snapshot) {
    write_meta(w, m.snapshot->meta);
    w.bytes(m.snapshot->data ? std::string_view(*m.snapshot->data) : std::string_view());
  }
  w.u64(m.read_seq);
  w.bytes(m.context);
  return std::move(w.str());
}

bool decode_message(std::string_view bytes, Message* m) {
  BufReader r(bytes);
  std::uint8_t v = 0, type = 0, transfer = 0, reject = 0, has_snapshot = 0;
  std::uint32_t n = 0;
  if (!r.u8(&v) || v != kWireVersion || !r.u8(&type)) return false;
  if (type > static_cast<std::uint8_t>(core::MessageType::ReadIndexResponse)) return false;
  m->type = static_cast<core::MessageType>(type);
  if (!r.u64(&m->from) || !r.u64(&m->to) || !r.u64(&m->term) || !r.u64(&m->last_index) ||
      !r.u64(&m->last_term) || !r.u8(&transfer) || !r.u64(&m->prev_index) || !r.u64(&m->prev_term) || !r.u32(&n)) {
    return false;
  }
  m->transfer = transfer != 0;
  m->entries.clear();
  if (n > bytes.size()) return false;  // each entry takes at least one byte
  m->entries.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    Entry e;
    if (!read_entry(r, &e)) return false;
    m->entries.push_back(std::move(e));
  }
  if (!r.u64(&m->commit) || !r.u8(&reject) || !r.u64(&m->index) || !r.u64(&m->hint_index) ||
      !r.u64(&m->hint_term) || !r.u8(&has_snapshot)) {
    return false;
  }
  m->reject = reject != 0;
  m->snapshot.reset();
  if (has_snapshot) {
    core::Snapshot s;
    std::string data;
    if (!read_meta(r, &s.meta) || !r.bytes(&data)) return false;
    s.data = std::make_shared<const std::string>(std::move(data));
    m->snapshot = std::move(s);
  }
  return r.u64(&m->read_seq) && r.bytes(&m->context) && r.done();
}

}  // namespace corvus::rachis
