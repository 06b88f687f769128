#include "storage/counter_value.h"

#include <algorithm>
#include <limits>

#include "storage/document.h"

namespace corvus::storage {
namespace {

constexpr char kEncodingVersion = 1;
constexpr CounterSum kMaxTotal = std::numeric_limits<int64_t>::max();
constexpr CounterSum kMinTotal = std::numeric_limits<int64_t>::min();

void put_string(std::string& out, std::string_view s) {
  out += encode_big_endian(s.size());
  out += s;
}

// Reads the encoding front to back; any shortfall is corruption.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool u64(uint64_t& v) {
    if (rest_.size() < 8) return false;
    v = decode_big_endian(rest_.substr(0, 8));
    rest_.remove_prefix(8);
    return true;
  }
  bool string(std::string& s) {
    uint64_t n = 0;
    if (!u64(n) || rest_.size() < n) return false;
    s.assign(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return true;
  }
  bool byte(char& c) {
    if (rest_.empty()) return false;
    c = rest_[0];
    rest_.remove_prefix(1);
    return true;
  }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

CounterSum sum_of(const std::vector<CounterNodeEntry>& entries) {
  CounterSum sum = 0;
  // At most 2^64 per entry: no realistic number of entries overflows 128 bits.
  for (const auto& e : entries) sum += e.contribution();
  return sum;
}

}  // namespace

bool CounterValue::exists() const {
  return std::any_of(entries_.begin(), entries_.end(), [](const auto& e) { return e.moved_since_deletion(); });
}

Result<int64_t> CounterValue::total() const {
  const CounterSum sum = sum_of(entries_);
  if (sum > kMaxTotal || sum < kMinTotal) {
    return Status::InvalidArgument("Overflow: the value of counter '" + name_ + "' would not fit a 64-bit integer");
  }
  return static_cast<int64_t>(sum);
}

int64_t CounterValue::saturated_total() const {
  const CounterSum sum = sum_of(entries_);
  return static_cast<int64_t>(std::clamp(sum, kMinTotal, kMaxTotal));
}

CounterNodeEntry& CounterValue::entry_for(std::string_view database_id, std::string_view node_tag) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), database_id,
                             [](const CounterNodeEntry& e, std::string_view id) { return e.database_id < id; });
  if (it == entries_.end() || it->database_id != database_id) {
    CounterNodeEntry e;
    e.database_id = std::string(database_id);
    it = entries_.insert(it, std::move(e));
  }
  it->node_tag = std::string(node_tag);
  return *it;
}

Status CounterValue::increment(std::string_view database_id, std::string_view node_tag, uint64_t etag,
                               int64_t delta) {
  CounterValue next = *this;
  CounterNodeEntry& e = next.entry_for(database_id, node_tag);
  // |INT64_MIN| fits uint64; negating it as int64 would not.
  const uint64_t magnitude = delta < 0 ? uint64_t{0} - static_cast<uint64_t>(delta) : static_cast<uint64_t>(delta);
  uint64_t& side = delta < 0 ? e.negative : e.positive;
  if (side > std::numeric_limits<uint64_t>::max() - magnitude) {
    return Status::InvalidArgument("Overflow: counter '" + name_ + "' has reached the limit of what this node can " +
                                   (delta < 0 ? "subtract" : "add"));
  }
  if (e.increments == std::numeric_limits<uint64_t>::max()) {
    return Status::InvalidArgument("Overflow: counter '" + name_ + "' has reached the limit of increments");
  }
  side += magnitude;
  ++e.increments;
  e.etag = etag;
  if (auto t = next.total(); !t.ok()) return t.status();
  *this = std::move(next);
  return Status::Ok();
}

void CounterValue::remove(std::string_view database_id, std::string_view node_tag, uint64_t etag) {
  entry_for(database_id, node_tag).etag = etag;
  for (auto& e : entries_) {
    e.deleted_positive = e.positive;
    e.deleted_negative = e.negative;
    e.deleted_increments = e.increments;
  }
}

void CounterValue::merge(const CounterValue& other) {
  for (const auto& theirs : other.entries_) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), theirs.database_id,
                               [](const CounterNodeEntry& e, const std::string& id) { return e.database_id < id; });
    if (it == entries_.end() || it->database_id != theirs.database_id) {
      entries_.insert(it, theirs);
      continue;
    }
    CounterNodeEntry& mine = *it;
    if (theirs.etag > mine.etag) {
      mine.etag = theirs.etag;
      mine.node_tag = theirs.node_tag;
    }
    mine.positive = std::max(mine.positive, theirs.positive);
    mine.negative = std::max(mine.negative, theirs.negative);
    mine.deleted_positive = std::max(mine.deleted_positive, theirs.deleted_positive);
    mine.deleted_negative = std::max(mine.deleted_negative, theirs.deleted_negative);
    mine.increments = std::max(mine.increments, theirs.increments);
    mine.deleted_increments = std::max(mine.deleted_increments, theirs.deleted_increments);
  }
}

std::string CounterValue::encode() const {
  std::string out(1, kEncodingVersion);
  put_string(out, name_);
  out += encode_big_endian(entries_.size());
  for (const auto& e : entries_) {
    put_string(out, e.database_id);
    put_string(out, e.node_tag);
    for (uint64_t v : {e.etag, e.positive, e.negative, e.deleted_positive, e.deleted_negative, e.increments,
                       e.deleted_increments}) {
      out += encode_big_endian(v);
    }
  }
  return out;
}

Result<CounterValue> CounterValue::decode(std::string_view bytes) {
  Reader r(bytes);
  char version = 0;
  if (!r.byte(version) || version != kEncodingVersion) return Status::Corruption("counter: unknown encoding version");
  CounterValue v;
  uint64_t count = 0;
  if (!r.string(v.name_) || !r.u64(count)) return Status::Corruption("counter: truncated header");
  // Each entry takes at least 9 * 8 bytes: a count beyond that is corruption, not an allocation.
  if (count > bytes.size() / 72) return Status::Corruption("counter: impossible entry count");
  v.entries_.resize(count);
  for (auto& e : v.entries_) {
    if (!r.string(e.database_id) || !r.string(e.node_tag) || !r.u64(e.etag) || !r.u64(e.positive) ||
        !r.u64(e.negative) || !r.u64(e.deleted_positive) || !r.u64(e.deleted_negative) || !r.u64(e.increments) ||
        !r.u64(e.deleted_increments)) {
      return Status::Corruption("counter '" + v.name_ + "': truncated entry");
    }
    if (e.deleted_positive > e.positive || e.deleted_negative > e.negative || e.deleted_increments > e.increments) {
      return Status::Corruption("counter '" + v.name_ + "': deletion snapshot above the totals");
    }
  }
  if (!r.done()) return Status::Corruption("counter '" + v.name_ + "': trailing bytes");
  return v;
}

}  // namespace corvus::storage
