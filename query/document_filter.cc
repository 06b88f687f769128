#include "query/document_filter.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/regex.hpp>

#include "query/alias_check.h"
#include "query/field_values.h"
#include "query/operand_value.h"
#include "query/text_terms.h"
#include "query/value_comparison.h"

namespace corvus::query {

namespace json = boost::json;

// --- The compiled tree ------------------------------------------------------

namespace {

// field = value (`!=` compiles to Not of this).
struct EqualTest {
  FieldPath path;
  json::value value;
  bool exact = false;
};
// A bound of <, <=, >, >=, between.
struct Bound {
  json::value value;
  bool inclusive = false;
};
struct RangeTest {
  FieldPath path;
  std::optional<Bound> low;
  std::optional<Bound> high;
  bool exact = false;
};
struct InTest {
  FieldPath path;
  std::vector<json::value> values;
  bool all = false;
  bool exact = false;
};
// startsWith / endsWith.
struct AffixTest {
  FieldPath path;
  std::string affix;
  bool suffix = false;
  bool exact = false;
};
struct ExistsTest {
  FieldPath path;
};
// Boost.Regex (header-only), not std::regex: libstdc++'s std::regex recurses
// once per character and overflows the stack on a ~20 KB string with `.*c`
// (a crash any document could trigger), and it backtracks without bound.
// Boost's matcher keeps its state on the heap and gives up with an exception
// past a complexity bound.
struct RegexTest {
  FieldPath path;
  boost::regex regex;
};
struct SearchTest {
  FieldPath path;
  std::vector<std::string> terms;  // lower-cased, may hold '*'
  bool all = false;                // 'and': every term must match some word
};
struct Constant {
  bool value = false;
};

}  // namespace

using NodePtr = std::unique_ptr<DocumentFilter::Node>;

namespace {
// `a and b and c`: the chain of binary ands flattened (see Compiler::flatten).
struct AllOf {
  std::vector<NodePtr> operands;
};
struct AnyOf {
  std::vector<NodePtr> operands;
};
struct Negation {
  NodePtr operand;
};
}  // namespace

struct DocumentFilter::Node {
  std::variant<EqualTest, RangeTest, InTest, AffixTest, ExistsTest, RegexTest, SearchTest, Constant, AllOf,
               AnyOf, Negation>
      test;
};

// --- Evaluation -------------------------------------------------------------

namespace {

// The values one path reaches in one document; id() reaches the id. Not
// movable: `values` may point at `id_value`.
class ReachedValues {
 public:
  ReachedValues(const FieldPath& path, const json::value& document, std::string_view id) {
    if (path.is_id) {
      id_value_ = json::string(id);
      values_.push_back(&id_value_);
    } else {
      collect_field_values(document, path, values_);
    }
  }
  ReachedValues(const ReachedValues&) = delete;
  ReachedValues& operator=(const ReachedValues&) = delete;

  const std::vector<const json::value*>& values() const { return values_; }

 private:
  json::value id_value_;
  std::vector<const json::value*> values_;
};

bool equals_any(const json::value& query_value, const std::vector<const json::value*>& reached, bool exact) {
  // `= null` also matches a document where the path reaches nothing: RavenDB
  // indexes a missing field as null (the NULL_VALUE term).
  if (query_value.is_null() && reached.empty()) return true;
  for (const auto* value : reached) {
    if (query_value_equals(query_value, *value, exact)) return true;
  }
  return false;
}

bool within(const RangeTest& range, const json::value& value) {
  if (range.low) {
    const auto order = compare_for_range(value, range.low->value, range.exact);
    if (!(order > 0 || (range.low->inclusive && order == 0))) return false;
  }
  if (range.high) {
    const auto order = compare_for_range(value, range.high->value, range.exact);
    if (!(order < 0 || (range.high->inclusive && order == 0))) return false;
  }
  return true;
}

bool has_affix(const AffixTest& test, std::string_view text) {
  // Lower-casing keeps byte lengths (value_comparison.h), so the ends compare in
  // place; an end that cuts a UTF-8 sequence cannot equal a whole-character affix.
  if (text.size() < test.affix.size()) return false;
  const std::string_view part =
      test.suffix ? text.substr(text.size() - test.affix.size()) : text.substr(0, test.affix.size());
  return test.exact ? part == test.affix : equals_ignore_case(part, test.affix);
}

bool regex_finds(const boost::regex& regex, std::string_view text) {
  try {
    return boost::regex_search(text.begin(), text.end(), regex);
  } catch (const std::runtime_error&) {
    // The complexity or memory bound was hit (a pathological pattern on this
    // value): no match, rather than a query that fails on some documents.
    return false;
  }
}

bool search_matches(const SearchTest& test, const std::vector<const json::value*>& reached) {
  std::vector<std::string> words;
  for (const auto* value : reached) {
    if (auto text = canonical_text(*value)) tokenize_words(*text, words);
  }
  auto term_found = [&](const std::string& term) {
    for (const auto& word : words) {
      if (term_matches(term, word)) return true;
    }
    return false;
  };
  if (test.terms.empty()) return false;
  for (const auto& term : test.terms) {
    const bool found = term_found(term);
    if (test.all && !found) return false;
    if (!test.all && found) return true;
  }
  return test.all;
}

bool evaluate(const DocumentFilter::Node& node, const json::value& document, std::string_view id);

struct Evaluator {
  const json::value& document;
  std::string_view id;

  bool operator()(const EqualTest& test) const {
    ReachedValues reached(test.path, document, id);
    return equals_any(test.value, reached.values(), test.exact);
  }
  bool operator()(const RangeTest& test) const {
    ReachedValues reached(test.path, document, id);
    for (const auto* value : reached.values()) {
      if (within(test, *value)) return true;
    }
    return false;
  }
  bool operator()(const InTest& test) const {
    ReachedValues reached(test.path, document, id);
    if (test.values.empty()) return false;
    for (const auto& listed : test.values) {
      const bool found = equals_any(listed, reached.values(), test.exact);
      if (test.all && !found) return false;
      if (!test.all && found) return true;
    }
    return test.all;
  }
  bool operator()(const AffixTest& test) const {
    ReachedValues reached(test.path, document, id);
    for (const auto* value : reached.values()) {
      if (value->is_string() && has_affix(test, value->get_string())) return true;
    }
    return false;
  }
  bool operator()(const ExistsTest& test) const {
    ReachedValues reached(test.path, document, id);
    return !reached.values().empty();
  }
  bool operator()(const RegexTest& test) const {
    ReachedValues reached(test.path, document, id);
    for (const auto* value : reached.values()) {
      if (value->is_string() && regex_finds(test.regex, value->get_string())) return true;
    }
    return false;
  }
  bool operator()(const SearchTest& test) const {
    ReachedValues reached(test.path, document, id);
    return search_matches(test, reached.values());
  }
  bool operator()(const Constant& constant) const { return constant.value; }
  bool operator()(const AllOf& all) const {
    for (const auto& operand : all.operands) {
      if (!evaluate(*operand, document, id)) return false;
    }
    return true;
  }
  bool operator()(const AnyOf& any) const {
    for (const auto& operand : any.operands) {
      if (evaluate(*operand, document, id)) return true;
    }
    return false;
  }
  bool operator()(const Negation& negation) const { return !evaluate(*negation.operand, document, id); }
};

bool evaluate(const DocumentFilter::Node& node, const json::value& document, std::string_view id) {
  return std::visit(Evaluator{document, id}, node.test);
}

// --- Compilation ------------------------------------------------------------

std::string describe(const Operand& operand) {
  if (const auto* parameter = std::get_if<Parameter>(&operand)) {
    return "parameter '$" + parameter->name + "' (at position " + std::to_string(parameter->position) + ")";
  }
  if (const auto* v = std::get_if<CompareExchangeValue>(&operand)) {
    return "cmpxchg() (at position " + std::to_string(v->position) + ")";
  }
  return "the value " + json::serialize(std::get<Literal>(operand).value);
}

std::string describe(const FieldPath& path) {
  return "'" + (path.is_id ? std::string("id()") : path.text) + "' (at position " +
         std::to_string(path.position) + ")";
}

bool is_scalar(const json::value& v) { return !v.is_array() && !v.is_object(); }

// A comparison value: a scalar. Arrays and objects are refused rather than
// silently never matching.
Result<json::value> resolve_scalar(const Operand& operand, const json::object& parameters, const FieldPath& path) {
  auto value = resolve_operand(operand, parameters);
  if (!value.ok()) return value.status();
  if (!is_scalar(*value)) {
    return Status::InvalidArgument(describe(operand) + " compared with " + describe(path) +
                                   " must be a string, a number, a boolean or null");
  }
  return std::move(value).value();
}

Result<std::string> resolve_string(const Operand& operand, const json::object& parameters, const char* method,
                                   size_t position) {
  auto value = resolve_operand(operand, parameters);
  if (!value.ok()) return value.status();
  if (!value->is_string()) {
    return Status::InvalidArgument(std::string(method) + "() (at position " + std::to_string(position) +
                                   ") expects a string, got " + describe(operand));
  }
  return std::string(value->get_string());
}

NodePtr make_node(auto test) {
  auto node = std::make_unique<DocumentFilter::Node>();
  node->test = std::move(test);
  return node;
}

// Compiling, evaluating and destroying the compiled tree recurse once per level
// of nesting (chains of one operator are flattened, see Compiler::flatten); past
// this depth the where clause is refused rather than risking the stack of the
// thread that runs it (RavenDB: "query too complex" when its stack runs short).
// The parser already stops at 128 levels of parentheses and not.
constexpr size_t kMaxExpressionDepth = 1000;

Result<NodePtr> compile_node(const Expression& expression, const json::object& parameters, size_t depth);

Result<NodePtr> compile_comparison(const Comparison& comparison, const json::object& parameters) {
  auto value = resolve_scalar(comparison.value, parameters, comparison.field);
  if (!value.ok()) return value.status();
  switch (comparison.op) {
    case CompareOp::Equal:
      return make_node(EqualTest{comparison.field, std::move(value).value(), comparison.exact});
    case CompareOp::NotEqual:
      // `!=` is NOT `=` on the document: a document without the field matches `!= 'x'`.
      return make_node(Negation{make_node(EqualTest{comparison.field, std::move(value).value(), comparison.exact})});
    default:
      break;
  }
  // A null bound orders nothing (RavenDB: a range over null matches no document).
  if (value->is_null()) return make_node(Constant{false});
  RangeTest range{comparison.field, std::nullopt, std::nullopt, comparison.exact};
  Bound bound{std::move(value).value(), false};
  switch (comparison.op) {
    case CompareOp::Less:
      range.high = std::move(bound);
      break;
    case CompareOp::LessOrEqual:
      bound.inclusive = true;
      range.high = std::move(bound);
      break;
    case CompareOp::Greater:
      range.low = std::move(bound);
      break;
    default:  // GreaterOrEqual
      bound.inclusive = true;
      range.low = std::move(bound);
      break;
  }
  return make_node(std::move(range));
}

Result<NodePtr> compile_between(const Between& between, const json::object& parameters) {
  auto low = resolve_scalar(between.low, parameters, between.field);
  if (!low.ok()) return low.status();
  auto high = resolve_scalar(between.high, parameters, between.field);
  if (!high.ok()) return high.status();
  if (low->is_null() || high->is_null()) return make_node(Constant{false});
  const bool numeric_low = is_number(*low), numeric_high = is_number(*high);
  if (numeric_low != numeric_high || low->is_string() != high->is_string()) {
    return Status::InvalidArgument("between on " + describe(between.field) + " needs two bounds of the same type, got " +
                                   describe(between.low) + " and " + describe(between.high));
  }
  return make_node(RangeTest{between.field, Bound{std::move(low).value(), true}, Bound{std::move(high).value(), true},
                             between.exact});
}

Result<NodePtr> compile_in(const InList& list, const json::object& parameters) {
  InTest test{list.field, {}, list.all, list.exact};
  for (const auto& operand : list.values) {
    auto value = resolve_operand(operand, parameters);
    if (!value.ok()) return value.status();
    if (const auto* array = value->if_array()) {
      // in ($ids) with $ids = ["a", "b"]: the array's elements are the list.
      for (const auto& element : *array) {
        if (!is_scalar(element)) {
          return Status::InvalidArgument("the elements of " + describe(operand) + " in the list of " +
                                         describe(list.field) + " must be strings, numbers, booleans or null");
        }
        test.values.push_back(element);
      }
    } else if (value->is_object()) {
      return Status::InvalidArgument(describe(operand) + " in the list of " + describe(list.field) +
                                     " must be a scalar or an array");
    } else {
      test.values.push_back(std::move(value).value());
    }
  }
  return make_node(std::move(test));
}

Status expect_arguments(const MethodCall& call, const char* method, size_t minimum, size_t maximum) {
  if (call.arguments.size() < minimum || call.arguments.size() > maximum) {
    return Status::InvalidArgument(std::string(method) + "() (at position " + std::to_string(call.position) +
                                   ") takes a field and " +
                                   (minimum == maximum ? std::to_string(minimum)
                                                       : std::to_string(minimum) + " to " + std::to_string(maximum)) +
                                   " argument(s), got " + std::to_string(call.arguments.size()));
  }
  return Status::Ok();
}

Result<NodePtr> compile_method(const MethodCall& call, const json::object& parameters) {
  switch (call.kind) {
    case MethodKind::StartsWith:
    case MethodKind::EndsWith: {
      const bool suffix = call.kind == MethodKind::EndsWith;
      const char* name = suffix ? "endsWith" : "startsWith";
      if (auto s = expect_arguments(call, name, 1, 1); !s.ok()) return s;
      auto affix = resolve_string(call.arguments[0], parameters, name, call.position);
      if (!affix.ok()) return affix.status();
      return make_node(AffixTest{call.field, std::move(affix).value(), suffix, call.exact});
    }
    case MethodKind::Exists: {
      if (auto s = expect_arguments(call, "exists", 0, 0); !s.ok()) return s;
      return make_node(ExistsTest{call.field});
    }
    case MethodKind::Regex: {
      if (auto s = expect_arguments(call, "regex", 1, 1); !s.ok()) return s;
      auto pattern = resolve_string(call.arguments[0], parameters, "regex", call.position);
      if (!pattern.ok()) return pattern.status();
      const boost::regex::flag_type flags =
          call.exact ? boost::regex::ECMAScript : (boost::regex::ECMAScript | boost::regex::icase);
      try {
        return make_node(RegexTest{call.field, boost::regex(*pattern, flags)});
      } catch (const boost::regex_error& e) {
        return Status::InvalidArgument("regex() (at position " + std::to_string(call.position) +
                                       "): invalid regular expression '" + *pattern + "': " + e.what());
      }
    }
    case MethodKind::Search: {
      if (auto s = expect_arguments(call, "search", 1, 2); !s.ok()) return s;
      auto terms = resolve_string(call.arguments[0], parameters, "search", call.position);
      if (!terms.ok()) return terms.status();
      bool all = false;
      if (call.arguments.size() == 2) {
        auto mode = resolve_string(call.arguments[1], parameters, "search", call.position);
        if (!mode.ok()) return mode.status();
        if (equals_ignore_case(*mode, "and")) {
          all = true;
        } else if (!equals_ignore_case(*mode, "or")) {
          return Status::InvalidArgument("search() (at position " + std::to_string(call.position) +
                                         "): the operator must be 'and' or 'or', got '" + *mode + "'");
        }
      }
      return make_node(SearchTest{call.field, tokenize_search_terms(*terms), all});
    }
  }
  return Status::Internal("unknown method kind");
}

bool same_path(const FieldPath& a, const FieldPath& b) {
  if (a.is_id != b.is_id || !equals_ignore_case(a.alias, b.alias) || a.segments.size() != b.segments.size()) {
    return false;
  }
  for (size_t i = 0; i < a.segments.size(); ++i) {
    if (a.segments[i].name != b.segments[i].name || a.segments[i].each != b.segments[i].each) return false;
  }
  return true;
}

bool is_lower_bound(CompareOp op) { return op == CompareOp::Greater || op == CompareOp::GreaterOrEqual; }
bool is_upper_bound(CompareOp op) { return op == CompareOp::Less || op == CompareOp::LessOrEqual; }

// RavenDB turns `f > a and f < b` (a lower and an upper bound on the same field,
// in either order) into one between query (LuceneQueryBuilder, OperatorType.And),
// so on a field with several values ONE value must lie in the range, not one
// value above a and another below b. Same here. nullopt: not such a pair (or
// bounds of different types or null, which keep their separate meaning).
std::optional<Result<NodePtr>> merge_range_pair(const And& node, const json::object& parameters) {
  if (!node.left || !node.right) return std::nullopt;
  const auto* left = std::get_if<Comparison>(&node.left->node);
  const auto* right = std::get_if<Comparison>(&node.right->node);
  if (left == nullptr || right == nullptr) return std::nullopt;
  const Comparison* lower = nullptr;
  const Comparison* upper = nullptr;
  if (is_lower_bound(left->op) && is_upper_bound(right->op)) {
    lower = left;
    upper = right;
  } else if (is_upper_bound(left->op) && is_lower_bound(right->op)) {
    lower = right;
    upper = left;
  } else {
    return std::nullopt;
  }
  if (!same_path(lower->field, upper->field) || lower->exact != upper->exact) return std::nullopt;
  auto low = resolve_scalar(lower->value, parameters, lower->field);
  if (!low.ok()) return Result<NodePtr>(low.status());
  auto high = resolve_scalar(upper->value, parameters, upper->field);
  if (!high.ok()) return Result<NodePtr>(high.status());
  const bool both_numbers = is_number(*low) && is_number(*high);
  const bool both_strings = low->is_string() && high->is_string();
  if (!both_numbers && !both_strings) return std::nullopt;
  return Result<NodePtr>(make_node(RangeTest{lower->field,
                                             Bound{std::move(low).value(), lower->op == CompareOp::GreaterOrEqual},
                                             Bound{std::move(high).value(), upper->op == CompareOp::LessOrEqual},
                                             lower->exact}));
}

struct Compiler {
  const json::object& parameters;
  size_t depth;  // of the expression being compiled; the root is 0

  Result<NodePtr> operator()(const Comparison& c) const { return compile_comparison(c, parameters); }
  Result<NodePtr> operator()(const InList& list) const { return compile_in(list, parameters); }
  Result<NodePtr> operator()(const Between& between) const { return compile_between(between, parameters); }
  Result<NodePtr> operator()(const MethodCall& call) const { return compile_method(call, parameters); }
  Result<NodePtr> operator()(const TrueExpression&) const { return make_node(Constant{true}); }
  Result<NodePtr> operator()(const And& node) const {
    if (auto merged = merge_range_pair(node, parameters)) return std::move(*merged);
    return flatten<And, AllOf>(node);
  }
  Result<NodePtr> operator()(const Or& node) const { return flatten<Or, AnyOf>(node); }
  Result<NodePtr> operator()(const Not& node) const {
    if (!node.operand) return missing_operand();
    auto operand = compile_child(*node.operand);
    if (!operand.ok()) return operand.status();
    return make_node(Negation{std::move(operand).value()});
  }

  static Status missing_operand() {
    return Status::InvalidArgument("incomplete where clause: an operand of and/or/not is missing");
  }

  Result<NodePtr> compile_child(const Expression& child) const {
    if (depth + 1 > kMaxExpressionDepth) {
      return Status::InvalidArgument("the where clause nests parentheses and not more than " +
                                     std::to_string(kMaxExpressionDepth) + " levels deep");
    }
    return compile_node(child, parameters, depth + 1);
  }

  // A chain of one operator (`a or b or c ...`, any shape of binary Or nodes)
  // becomes one n-ary node, walked with an explicit stack: the parser accepts
  // 4096 conditions, so `x = 1 or x = 2 or ...` is a tree 4095 levels deep, too
  // deep to recurse through per level. Operands keep their left-to-right order.
  // An and-pair that forms one range (merge_range_pair) stays one operand.
  template <typename Binary, typename Combined>
  Result<NodePtr> flatten(const Binary& root) const {
    Combined combined;
    std::vector<const Expression*> pending;
    auto push_operands = [&](const Binary& binary) -> Status {
      if (!binary.left || !binary.right) return missing_operand();
      pending.push_back(binary.right.get());
      pending.push_back(binary.left.get());
      return Status::Ok();
    };
    if (auto s = push_operands(root); !s.ok()) return s;
    while (!pending.empty()) {
      const Expression* expression = pending.back();
      pending.pop_back();
      if (const auto* same = std::get_if<Binary>(&expression->node)) {
        std::optional<Result<NodePtr>> merged;
        if constexpr (std::is_same_v<Binary, And>) merged = merge_range_pair(*same, parameters);
        if (!merged) {
          if (auto s = push_operands(*same); !s.ok()) return s;
          continue;
        }
        if (!merged->ok()) return merged->status();
        combined.operands.push_back(std::move(*merged).value());
        continue;
      }
      auto operand = compile_child(*expression);
      if (!operand.ok()) return operand.status();
      combined.operands.push_back(std::move(operand).value());
    }
    return make_node(std::move(combined));
  }
};

Result<NodePtr> compile_node(const Expression& expression, const json::object& parameters, size_t depth) {
  return std::visit(Compiler{parameters, depth}, expression.node);
}

}  // namespace

// --- DocumentFilter ---------------------------------------------------------

DocumentFilter::DocumentFilter(std::unique_ptr<Node> root) : root_(std::move(root)) {}
DocumentFilter::DocumentFilter(DocumentFilter&&) noexcept = default;
DocumentFilter& DocumentFilter::operator=(DocumentFilter&&) noexcept = default;
DocumentFilter::~DocumentFilter() = default;

Result<DocumentFilter> DocumentFilter::compile(const Expression* where, const json::object& parameters) {
  if (where == nullptr) return DocumentFilter(nullptr);
  auto root = compile_node(*where, parameters, 0);
  if (!root.ok()) return root.status();
  return DocumentFilter(std::move(root).value());
}

Result<DocumentFilter> DocumentFilter::compile(const Query& query, const json::object& parameters) {
  if (Status s = check_where_aliases(query.where.get(), query.alias); !s.ok()) return s;
  return compile(query.where.get(), parameters);
}

bool DocumentFilter::matches(const json::value& document, std::string_view id) const {
  if (!root_) return true;
  return evaluate(*root_, document, id);
}

}  // namespace corvus::query
