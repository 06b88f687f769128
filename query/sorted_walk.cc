#include "query/sorted_walk.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "query/document_body.h"

namespace corvus::query {

namespace {

// What documents tie on under the first clause: their sort term, or for a
// long sort the truncated number.
struct GroupKey {
  TermType type = TermType::Null;
  std::string value;
  int64_t truncated = 0;
  bool operator==(const GroupKey&) const = default;
};

GroupKey group_key(const Term& term, OrderingType type) {
  if (type == OrderingType::Long && term.type == TermType::Number)
    return GroupKey{term.type, {}, double_to_long(decode_number(term.value)).value_or(0)};  // no NaN term exists
  return GroupKey{term.type, term.value, 0};
}

// Walking visits about page * indexed / matches entries before the page is
// full; sorting reads every match (a document read and parsed, worth some
// sixteen entry steps).
bool worth_walking(uint64_t page, uint64_t indexed, uint64_t matches) {
  if (matches == 0) return false;
  const double m = static_cast<double>(matches);
  return static_cast<double>(page) * static_cast<double>(indexed) / m <= 16 * m;
}

struct Member {
  uint64_t etag;
  std::string id;
};

}  // namespace

Result<std::optional<std::vector<std::string>>> walk_sorted_page(const AutoIndex& index, const DocumentSorter& sorter,
                                                                 const IndexCandidates* matches, uint64_t page,
                                                                 const storage::DocumentSnapshot& snapshot) {
  using Page = std::optional<std::vector<std::string>>;
  const auto leading = sorter.leading_field();
  if (!leading || leading->type == OrderingType::AlphaNumeric) return Page();
  const int field_number = index.definition().field_number(leading->field.text);
  if (field_number < 0) return Page();
  const auto field = static_cast<uint8_t>(field_number);
  if (matches && !worth_walking(page, index.documents_count(), matches->documents.size())) return Page();
  // Strings and numbers interleave differently in the sorter than in the index.
  const TermType foreign = leading->type == OrderingType::String ? TermType::Number : TermType::String;
  auto mixed = index.has_sort_entries(field, foreign);
  if (!mixed.ok()) return mixed.status();
  if (mixed.value()) return Page();

  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(page, 1024)));
  if (page == 0) return Page(std::move(out));
  std::vector<Member> group;
  GroupKey current;
  // A group's order beyond the first clause: the other clauses (documents
  // read), or for longs beyond kExactIntegerLimit their exact values (the
  // sorter's int64 tells apart what the term's double does not); otherwise the etag.
  bool group_needs_keys = false;

  auto flush = [&]() -> Status {
    if (group_needs_keys) {
      std::vector<std::string> ids;
      ids.reserve(group.size());
      for (const auto& m : group) ids.push_back(m.id);
      auto docs = snapshot.get_many(ids);
      if (!docs.ok()) return docs.status();
      struct Keyed {
        DocumentSorter::Key key;
        Member member;
      };
      std::vector<Keyed> keyed;
      keyed.reserve(group.size());
      for (size_t i = 0; i < group.size(); ++i) {
        const auto& doc = docs.value()[i];
        if (!doc) continue;  // deleted since it was indexed: next() would skip it
        auto body = parse_document_body(*doc);
        if (!body.ok()) return body.status();
        keyed.push_back({sorter.key_of(body.value(), doc->id), std::move(group[i])});
      }
      std::sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
        if (sorter.less(a.key, b.key)) return true;
        if (sorter.less(b.key, a.key)) return false;
        return a.member.etag < b.member.etag;
      });
      for (auto& k : keyed) {
        if (out.size() == page) break;
        out.push_back(std::move(k.member.id));
      }
    } else {
      std::sort(group.begin(), group.end(), [](const Member& a, const Member& b) { return a.etag < b.etag; });
      for (auto& m : group) {
        if (out.size() == page) break;
        out.push_back(std::move(m.id));
      }
    }
    group.clear();
    return Status::Ok();
  };

  Status failed;
  Status walked = index.walk_sort_entries(field, leading->descending, [&](const Term& term, std::string_view id,
                                                                          uint64_t etag) {
    GroupKey key = group_key(term, leading->type);
    if (!group.empty() && !(key == current)) {
      failed = flush();
      if (!failed.ok() || out.size() == page) return false;
    }
    if (group.empty()) {
      current = std::move(key);
      group_needs_keys = sorter.clause_count() > 1 ||
                         (leading->type == OrderingType::Long && term.type == TermType::Number &&
                          std::fabs(decode_number(term.value)) >= kExactIntegerLimit);
    }
    std::string lowered(id);
    if (!matches || matches->documents.count(lowered)) group.push_back({etag, std::move(lowered)});
    return true;
  });
  if (!walked.ok()) return walked;
  if (!failed.ok()) return failed;
  if (out.size() < page) {
    if (Status s = flush(); !s.ok()) return s;
  }
  return Page(std::move(out));
}

}  // namespace corvus::query
