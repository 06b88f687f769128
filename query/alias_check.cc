#include "query/alias_check.h"

#include <vector>

#include "query/value_comparison.h"

namespace corvus::query {

Status check_reads_queried_document(const FieldPath& path, const std::string& from_alias, const char* clause) {
  if (path.alias.empty() || equals_ignore_case(path.alias, from_alias)) return Status::Ok();
  return Status::InvalidArgument(std::string(clause) + " on '" + path.alias + (path.text.empty() ? "" : ".") +
                                 path.text + "' (at position " + std::to_string(path.position) +
                                 "): only the queried document can be read there, and '" + path.alias +
                                 "' is not its alias");
}

Status check_where_aliases(const Expression* where, const std::string& from_alias) {
  std::vector<const Expression*> pending;
  if (where) pending.push_back(where);
  while (!pending.empty()) {
    const Expression* e = pending.back();
    pending.pop_back();
    if (e == nullptr) continue;  // reported by DocumentFilter::compile
    const FieldPath* field = nullptr;
    if (const auto* c = std::get_if<Comparison>(&e->node)) field = &c->field;
    if (const auto* in = std::get_if<InList>(&e->node)) field = &in->field;
    if (const auto* b = std::get_if<Between>(&e->node)) field = &b->field;
    if (const auto* m = std::get_if<MethodCall>(&e->node)) field = &m->field;
    if (field) {
      if (Status s = check_reads_queried_document(*field, from_alias, "where"); !s.ok()) return s;
    }
    if (const auto* a = std::get_if<And>(&e->node)) {
      pending.push_back(a->right.get());
      pending.push_back(a->left.get());
    }
    if (const auto* o = std::get_if<Or>(&e->node)) {
      pending.push_back(o->right.get());
      pending.push_back(o->left.get());
    }
    if (const auto* n = std::get_if<Not>(&e->node)) pending.push_back(n->operand.get());
  }
  return Status::Ok();
}

}  // namespace corvus::query
