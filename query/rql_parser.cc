#include "query/rql_parser.h"

#include <algorithm>
#include <set>
#include <utility>

#include "query/rql_lexer.h"

namespace corvus::query {
namespace {

// Nesting of parentheses, `not` and exact(): bounds the recursion on hostile input.
constexpr int kMaxNesting = 128;
// Conditions (leaves) in one where clause: bounds the depth of And/Or chains, which
// are destroyed (and evaluated) recursively.
constexpr size_t kMaxConditions = 4096;
// How much of a token an error message quotes.
constexpr size_t kMaxQuotedToken = 40;

#define RQL_CHECK(expr)                        \
  do {                                         \
    Status rql_status_ = (expr);               \
    if (!rql_status_.ok()) return rql_status_; \
  } while (0)

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Words that start a clause (or are operators) and so are not taken as a field
// name unless what follows shows they are one (`where Order = 1` is a field).
bool is_reserved_word(std::string_view word) {
  static constexpr std::string_view kWords[] = {
      "from",  "where",  "group",  "order",   "load",         "select", "include",
      "limit", "offset", "update", "filter",  "filter_limit", "and",    "or",
      "not",   "as",     "in",     "between", "all"};
  for (std::string_view w : kWords) {
    if (iequals(word, w)) return true;
  }
  return false;
}

bool is_clause_word(std::string_view word) {
  static constexpr std::string_view kWords[] = {"where",  "group",       "order", "load",
                                                "select", "include",     "limit", "update",
                                                "filter", "filter_limit"};
  for (std::string_view w : kWords) {
    if (iequals(word, w)) return true;
  }
  return false;
}

bool is_symbol(const Token& t, std::string_view s) {
  return t.kind == TokenKind::Symbol && t.text == s;
}
bool is_keyword(const Token& t, std::string_view kw) {
  return t.kind == TokenKind::Identifier && iequals(t.text, kw);
}
bool is_comparison_symbol(const Token& t) {
  return t.kind == TokenKind::Symbol &&
         (t.text == "=" || t.text == "==" || t.text == "!=" || t.text == "<>" || t.text == "<" ||
          t.text == "<=" || t.text == ">" || t.text == ">=");
}

// What may follow a field name: a reserved word followed by one of these is a field.
bool follows_field(const Token& t) {
  if (t.kind == TokenKind::End) return true;
  if (is_comparison_symbol(t)) return true;
  if (t.kind == TokenKind::Symbol) {
    return t.text == "." || t.text == "[" || t.text == "," || t.text == ")";
  }
  if (t.kind == TokenKind::Identifier) {
    for (std::string_view w :
         {"in", "all", "between", "as", "asc", "desc", "ascending", "descending"}) {
      if (iequals(t.text, w)) return true;
    }
  }
  return false;
}

void mark_exact(Expression& root) {
  std::vector<Expression*> pending{&root};
  while (!pending.empty()) {
    Expression* e = pending.back();
    pending.pop_back();
    if (auto* c = std::get_if<Comparison>(&e->node)) c->exact = true;
    if (auto* in = std::get_if<InList>(&e->node)) in->exact = true;
    if (auto* b = std::get_if<Between>(&e->node)) b->exact = true;
    if (auto* m = std::get_if<MethodCall>(&e->node)) m->exact = true;
    if (auto* a = std::get_if<And>(&e->node)) {
      pending.push_back(a->left.get());
      pending.push_back(a->right.get());
    }
    if (auto* o = std::get_if<Or>(&e->node)) {
      pending.push_back(o->left.get());
      pending.push_back(o->right.get());
    }
    if (auto* n = std::get_if<Not>(&e->node)) pending.push_back(n->operand.get());
  }
}

ExpressionPtr make_expression(auto node) {
  auto e = std::make_unique<Expression>();
  e->node = std::move(node);
  return e;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), tokens_(tokenize_rql(text)) {}

  Result<Query> run() {
    Query q;
    Status s = parse_query(q);
    if (!s.ok()) return s;
    s = resolve_aliases(q);
    if (!s.ok()) return s;
    return q;
  }

 private:
  // ---- tokens ----
  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(index_ + ahead, tokens_.size() - 1)];
  }
  const Token& advance() {
    const Token& t = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return t;
  }
  std::string_view raw(const Token& t) const { return text_.substr(t.position, t.length); }

  // ---- errors ----
  std::string location(size_t offset) const {
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1) +
           " (offset " + std::to_string(offset) + ")";
  }
  std::string describe(const Token& t) const {
    if (t.kind == TokenKind::End) return "end of query";
    std::string_view r = raw(t);
    // A string token shows its own quotes.
    const std::string_view quote = t.kind == TokenKind::String ? "" : "'";
    if (r.size() > kMaxQuotedToken) {
      return std::string(quote) + std::string(r.substr(0, kMaxQuotedToken)) + "..." +
             std::string(quote);
    }
    return std::string(quote) + std::string(r) + std::string(quote);
  }
  // "RQL: expected <what> after '<previous token>' at <where>, found <token>".
  // A lexical error at that place is reported instead: it is the real cause.
  Status expected(std::string_view what) const {
    const Token& t = peek();
    if (t.kind == TokenKind::Error) {
      return Status::InvalidArgument("RQL: " + t.text + " at " + location(t.position));
    }
    std::string msg = "RQL: expected " + std::string(what);
    if (index_ > 0) msg += " after " + describe(tokens_[index_ - 1]);
    return Status::InvalidArgument(msg + " at " + location(t.position) + ", found " + describe(t));
  }
  Status unsupported(std::string_view construct, size_t position) const {
    return Status::InvalidArgument("RQL: " + std::string(construct) + " is not supported (at " +
                                   location(position) + ")");
  }
  Status invalid(std::string_view message, size_t position) const {
    return Status::InvalidArgument("RQL: " + std::string(message) + " at " + location(position));
  }
  Status expect_symbol(std::string_view s) {
    if (!is_symbol(peek(), s)) return expected("'" + std::string(s) + "'");
    advance();
    return Status::Ok();
  }

  // ---- query ----
  Status parse_query(Query& q) {
    const Token& first = peek();
    if (is_keyword(first, "declare")) return unsupported("declare function", first.position);
    if (is_keyword(first, "with")) return unsupported("with (graph queries)", first.position);
    if (is_keyword(first, "match")) return unsupported("match (graph queries)", first.position);
    if (!is_keyword(first, "from")) return expected("'from'");
    advance();
    RQL_CHECK(parse_from(q));

    bool seen_where = false, seen_order = false, seen_limit = false, seen_select = false;
    while (true) {
      const Token& t = peek();
      if (t.kind == TokenKind::End) return Status::Ok();
      if (is_keyword(t, "where")) {
        if (seen_where) return invalid("a second 'where' clause", t.position);
        seen_where = true;
        advance();
        RQL_CHECK(parse_or(q.where, 0));
      } else if (is_keyword(t, "order") && is_keyword(peek(1), "by")) {
        if (seen_order) return invalid("a second 'order by' clause", t.position);
        seen_order = true;
        advance();
        advance();
        RQL_CHECK(parse_order_by(q));
      } else if (is_keyword(t, "group") && is_keyword(peek(1), "by")) {
        return unsupported("group by", t.position);
      } else if (is_keyword(t, "filter") || is_keyword(t, "filter_limit")) {
        return unsupported("filter", t.position);
      } else if (is_keyword(t, "load")) {
        advance();
        RQL_CHECK(parse_loads(q));
      } else if (is_keyword(t, "select")) {
        if (seen_select) return invalid("a second 'select' clause", t.position);
        seen_select = true;
        if (q.update_script) return invalid("'select' together with 'update'", t.position);
        advance();
        RQL_CHECK(parse_select(q));
      } else if (is_keyword(t, "update")) {
        if (q.update_script) return invalid("a second 'update' clause", t.position);
        if (seen_select) return invalid("'update' together with 'select'", t.position);
        advance();
        if (peek().kind != TokenKind::Block) return expected("'{' and the update script");
        q.update_script = advance().text;
      } else if (is_keyword(t, "include")) {
        advance();
        RQL_CHECK(parse_includes(q));
      } else if (is_keyword(t, "limit")) {
        if (seen_limit) return invalid("a second 'limit' clause", t.position);
        seen_limit = true;
        advance();
        RQL_CHECK(parse_limit(q));
      } else {
        return expected(
            "a clause (where, order by, load, select, update, include, limit) or the end of the "
            "query");
      }
    }
  }

  Status parse_from(Query& q) {
    const Token& t = peek();
    const Token& after = peek(1);
    const bool index_name_follows = after.kind == TokenKind::String ||
                                    (after.kind == TokenKind::Identifier &&
                                     !is_clause_word(after.text) && !is_keyword(after, "as"));
    if (is_keyword(t, "index") && index_name_follows) {
      advance();
      const Token& name = advance();
      q.source = SourceKind::Index;
      q.source_name = name.text;
    } else if (t.kind == TokenKind::String) {
      advance();
      q.source = SourceKind::Collection;
      q.source_name = t.text;
    } else if (t.kind == TokenKind::Identifier && !is_clause_word(t.text)) {
      advance();
      if (iequals(t.text, "@all_docs")) {
        q.source = SourceKind::AllDocs;
      } else {
        q.source = SourceKind::Collection;
        q.source_name = t.text;
      }
    } else {
      return expected("a collection name, @all_docs or index '<name>'");
    }
    if (q.source != SourceKind::AllDocs && q.source_name.empty()) {
      return invalid("an empty collection or index name", t.position);
    }
    if (is_symbol(peek(), "(")) {
      return unsupported("from <collection> (<filter>) (revisions queries)", peek().position);
    }
    if (is_keyword(peek(), "as")) {
      advance();
      if (peek().kind != TokenKind::Identifier || is_reserved_word(peek().text)) {
        return expected("an alias");
      }
      q.alias = advance().text;
    } else if (peek().kind == TokenKind::Identifier && !is_reserved_word(peek().text)) {
      q.alias = advance().text;
    }
    return Status::Ok();
  }

  // ---- fields ----
  // id(), id(alias), or segments: name, 'quoted name', name[] joined by '.'.
  Status parse_field(FieldPath& f) {
    const Token& t = peek();
    f.position = t.position;
    if (is_keyword(t, "id") && is_symbol(peek(1), "(")) {
      advance();
      advance();
      if (peek().kind == TokenKind::Identifier) f.alias = advance().text;
      RQL_CHECK(expect_symbol(")"));
      f.is_id = true;
      f.text = "id()";
      return Status::Ok();
    }
    if (t.kind == TokenKind::Identifier && is_reserved_word(t.text) && !follows_field(peek(1))) {
      return expected("a field name");
    }
    if (t.kind != TokenKind::Identifier && t.kind != TokenKind::String) {
      return expected("a field name");
    }
    while (true) {
      const Token& seg = advance();
      if (!f.text.empty()) f.text += '.';
      f.text += raw(seg);
      if (seg.kind == TokenKind::String) {
        RQL_CHECK(split_quoted(seg, f.segments));
      } else {
        f.segments.push_back(FieldPath::Segment{seg.text, false});
      }
      if (is_symbol(peek(), "[")) {
        if (f.segments.back().each) return unsupported("name[][] (nested arrays)", peek().position);
        advance();
        if (!is_symbol(peek(), "]")) return expected("']' (only name[] is supported, not indexes)");
        advance();
        f.segments.back().each = true;
        f.text += "[]";
        if (is_symbol(peek(), "[")) return unsupported("name[][] (nested arrays)", peek().position);
      }
      if (!is_symbol(peek(), ".")) return Status::Ok();
      advance();
      if (peek().kind != TokenKind::Identifier && peek().kind != TokenKind::String) {
        return expected("a field name");
      }
    }
  }

  // A quoted name is a path: the clients quote a whole nested path when a name in it
  // needs quotes ('Address.Zip Code', 'Lines[].Product'), as RavenDB reads it. So a
  // quoted name splits at '.', and a trailing [] marks an array.
  Status split_quoted(const Token& t, std::vector<FieldPath::Segment>& out) {
    if (t.text.empty()) return invalid("an empty field name", t.position);
    size_t start = 0;
    while (true) {
      const size_t dot = t.text.find('.', start);
      std::string name =
          t.text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      FieldPath::Segment segment;
      if (name.size() >= 2 && name.compare(name.size() - 2, 2, "[]") == 0) {
        segment.each = true;
        name.resize(name.size() - 2);
      }
      if (name.empty()) return invalid("a malformed path " + describe(t), t.position);
      segment.name = std::move(name);
      out.push_back(std::move(segment));
      if (dot == std::string::npos) return Status::Ok();
      start = dot + 1;
    }
  }

  // A quoted include or cmpxchg path: include 'Lines[].Product'.
  Status path_from_string(const Token& t, FieldPath& f) {
    f.position = t.position;
    f.text = t.text;
    return split_quoted(t, f.segments);
  }

  // ---- values ----
  Status parse_value(Operand& out) {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::Parameter: out = Parameter{t.text, t.position}; break;
      case TokenKind::String: out = Literal{boost::json::value(boost::json::string(t.text))}; break;
      case TokenKind::Integer: out = Literal{boost::json::value(t.integer)}; break;
      case TokenKind::Double: out = Literal{boost::json::value(t.number)}; break;
      case TokenKind::Identifier:
        if (iequals(t.text, "true")) {
          out = Literal{boost::json::value(true)};
        } else if (iequals(t.text, "false")) {
          out = Literal{boost::json::value(false)};
        } else if (iequals(t.text, "null")) {
          out = Literal{boost::json::value(nullptr)};
        } else if (is_keyword(t, "cmpxchg") && is_symbol(peek(1), "(")) {
          return parse_compare_exchange_value(out);
        } else if (is_symbol(peek(1), "(")) {
          return unsupported(t.text + "() as a value", t.position);
        } else {
          return expected("a value (string, number, true, false, null or $parameter)");
        }
        break;
      default: return expected("a value (string, number, true, false, null or $parameter)");
    }
    advance();
    return Status::Ok();
  }

  // ---- where ----
  Status count_condition(size_t position) {
    if (++conditions_ > kMaxConditions) {
      return invalid("more than " + std::to_string(kMaxConditions) + " conditions", position);
    }
    return Status::Ok();
  }

  Status parse_or(ExpressionPtr& out, int depth) {
    RQL_CHECK(parse_and(out, depth));
    while (is_keyword(peek(), "or")) {
      advance();
      ExpressionPtr right;
      RQL_CHECK(parse_and(right, depth));
      out = make_expression(Or{std::move(out), std::move(right)});
    }
    return Status::Ok();
  }

  Status parse_and(ExpressionPtr& out, int depth) {
    RQL_CHECK(parse_unary(out, depth));
    while (is_keyword(peek(), "and")) {
      advance();
      ExpressionPtr right;
      RQL_CHECK(parse_unary(right, depth));
      out = make_expression(And{std::move(out), std::move(right)});
    }
    return Status::Ok();
  }

  Status parse_unary(ExpressionPtr& out, int depth) {
    if (depth >= kMaxNesting) {
      return invalid("nesting deeper than " + std::to_string(kMaxNesting) + " levels",
                     peek().position);
    }
    const Token& t = peek();
    // `not` is an operator unless it is a field compared with something (`Not = 1`).
    if (is_keyword(t, "not") && !is_comparison_symbol(peek(1))) {
      advance();
      ExpressionPtr operand;
      RQL_CHECK(parse_unary(operand, depth + 1));
      out = make_expression(Not{std::move(operand)});
      return Status::Ok();
    }
    return parse_primary(out, depth);
  }

  Status parse_primary(ExpressionPtr& out, int depth) {
    const Token& t = peek();
    if (is_symbol(t, "(")) {
      advance();
      RQL_CHECK(parse_or(out, depth + 1));
      return expect_symbol(")");
    }
    // Every other path below is one condition (a leaf of the tree).
    RQL_CHECK(count_condition(t.position));
    if (is_keyword(t, "true") && !is_comparison_symbol(peek(1))) {
      advance();
      out = make_expression(TrueExpression{});
      return Status::Ok();
    }
    if (t.kind == TokenKind::Identifier && is_keyword(t, "spatial") && is_symbol(peek(1), ".") &&
        peek(2).kind == TokenKind::Identifier && is_symbol(peek(3), "(")) {
      return unsupported("spatial." + peek(2).text + "()", t.position);
    }
    if (t.kind == TokenKind::Identifier && is_symbol(peek(1), "(") && !is_keyword(t, "id")) {
      const std::string name = lower(t.text);
      if (name == "exact") {
        advance();
        advance();
        RQL_CHECK(parse_or(out, depth + 1));
        RQL_CHECK(expect_symbol(")"));
        mark_exact(*out);
        return Status::Ok();
      }
      static const std::pair<std::string_view, MethodKind> kMethods[] = {
          {"startswith", MethodKind::StartsWith},
          {"endswith", MethodKind::EndsWith},
          {"exists", MethodKind::Exists},
          {"regex", MethodKind::Regex},
          {"search", MethodKind::Search}};
      for (const auto& [method, kind] : kMethods) {
        if (name == method) return parse_method(kind, out);
      }
      return unsupported(t.text + "()", t.position);
    }
    Comparison cmp;
    RQL_CHECK(parse_field(cmp.field));
    const Token& op = peek();
    if (is_comparison_symbol(op)) {
      advance();
      if (op.text == "=" || op.text == "==")
        cmp.op = CompareOp::Equal;
      else if (op.text == "!=" || op.text == "<>")
        cmp.op = CompareOp::NotEqual;
      else if (op.text == "<")
        cmp.op = CompareOp::Less;
      else if (op.text == "<=")
        cmp.op = CompareOp::LessOrEqual;
      else if (op.text == ">")
        cmp.op = CompareOp::Greater;
      else
        cmp.op = CompareOp::GreaterOrEqual;
      RQL_CHECK(parse_value(cmp.value));
      out = make_expression(std::move(cmp));
      return Status::Ok();
    }
    if (is_keyword(op, "in") || (is_keyword(op, "all") && is_keyword(peek(1), "in"))) {
      InList in;
      in.field = std::move(cmp.field);
      in.all = is_keyword(op, "all");
      if (in.all) advance();
      advance();
      RQL_CHECK(expect_symbol("("));
      // `in ()` is allowed, as RavenDB allows it.
      while (!is_symbol(peek(), ")")) {
        Operand v;
        RQL_CHECK(parse_value(v));
        in.values.push_back(std::move(v));
        if (!is_symbol(peek(), ",")) break;
        advance();
        if (is_symbol(peek(), ")")) return expected("a value");
      }
      RQL_CHECK(expect_symbol(")"));
      out = make_expression(std::move(in));
      return Status::Ok();
    }
    if (is_keyword(op, "between")) {
      advance();
      Between b;
      b.field = std::move(cmp.field);
      RQL_CHECK(parse_value(b.low));
      if (!is_keyword(peek(), "and")) return expected("'and'");
      advance();
      RQL_CHECK(parse_value(b.high));
      out = make_expression(std::move(b));
      return Status::Ok();
    }
    return expected("an operator (=, !=, <, <=, >, >=, in, all in, between)");
  }

  // startsWith(f, v), endsWith(f, v), regex(f, v), exists(f), search(f, v [, and|or]).
  Status parse_method(MethodKind kind, ExpressionPtr& out) {
    MethodCall call;
    call.kind = kind;
    call.position = advance().position;
    advance();  // '('
    RQL_CHECK(parse_field(call.field));
    if (kind != MethodKind::Exists) {
      RQL_CHECK(expect_symbol(","));
      Operand v;
      RQL_CHECK(parse_value(v));
      call.arguments.push_back(std::move(v));
      if (kind == MethodKind::Search && is_symbol(peek(), ",")) {
        advance();
        const Token& op = peek();
        const bool word = op.kind == TokenKind::Identifier || op.kind == TokenKind::String;
        if (!word || !(iequals(op.text, "and") || iequals(op.text, "or"))) {
          return expected("'and' or 'or'");
        }
        call.arguments.push_back(Literal{boost::json::value(boost::json::string(lower(op.text)))});
        advance();
      }
    }
    RQL_CHECK(expect_symbol(")"));
    out = make_expression(std::move(call));
    return Status::Ok();
  }

  // ---- order by ----
  Status parse_order_by(Query& q) {
    while (true) {
      OrderBy ob;
      const Token& t = peek();
      if (t.kind == TokenKind::Identifier && is_symbol(peek(1), "(") && !is_keyword(t, "id")) {
        if (is_keyword(t, "random")) {
          advance();
          advance();
          ob.kind = OrderBy::Kind::Random;
          if (!is_symbol(peek(), ")")) {
            Operand seed;
            RQL_CHECK(parse_value(seed));
            ob.random_seed = std::move(seed);
          }
          RQL_CHECK(expect_symbol(")"));
        } else if (is_keyword(t, "score")) {
          advance();
          advance();
          ob.kind = OrderBy::Kind::Score;
          RQL_CHECK(expect_symbol(")"));
        } else {
          return unsupported("order by " + t.text + "()", t.position);
        }
      } else if (is_keyword(t, "spatial") && is_symbol(peek(1), ".")) {
        return unsupported("order by spatial." + peek(2).text, t.position);
      } else {
        RQL_CHECK(parse_field(ob.field));
        if (is_keyword(peek(), "as")) {
          advance();
          const Token& type = peek();
          if (is_keyword(type, "long"))
            ob.type = OrderingType::Long;
          else if (is_keyword(type, "double"))
            ob.type = OrderingType::Double;
          else if (is_keyword(type, "alphaNumeric"))
            ob.type = OrderingType::AlphaNumeric;
          else if (is_keyword(type, "string"))
            ob.type = OrderingType::String;
          else
            return expected("an ordering type (long, double, alphaNumeric or string)");
          ob.type_given = true;
          advance();
        }
      }
      if (is_keyword(peek(), "asc") || is_keyword(peek(), "ascending")) {
        advance();
      } else if (is_keyword(peek(), "desc") || is_keyword(peek(), "descending")) {
        ob.descending = true;
        advance();
      }
      q.order_by.push_back(std::move(ob));
      if (!is_symbol(peek(), ",")) return Status::Ok();
      advance();
    }
  }

  // ---- load ----
  Status parse_loads(Query& q) {
    while (true) {
      Load l;
      RQL_CHECK(parse_field(l.path));
      if (is_keyword(peek(), "as")) advance();
      if (peek().kind != TokenKind::Identifier || is_reserved_word(peek().text)) {
        return expected("an alias for the loaded document");
      }
      l.alias = advance().text;
      q.loads.push_back(std::move(l));
      if (!is_symbol(peek(), ",")) return Status::Ok();
      advance();
    }
  }

  // cmpxchg('key') or cmpxchg($p) as a value.
  Status parse_compare_exchange_value(Operand& out) {
    CompareExchangeValue v;
    v.position = advance().position;
    advance();  // (
    const Token& key = peek();
    if (key.kind == TokenKind::String) {
      v.key = Literal{boost::json::value(boost::json::string(key.text))};
    } else if (key.kind == TokenKind::Parameter) {
      v.key = Parameter{key.text, key.position};
    } else {
      return expected("a compare-exchange key (string or $parameter)");
    }
    advance();
    RQL_CHECK(expect_symbol(")"));
    out = std::move(v);
    return Status::Ok();
  }

  // counter('name'), counter(alias, 'name'), counter($p) in select.
  Status parse_counter_projection(Projection& p) {
    p.field.position = advance().position;
    advance();  // (
    if (peek().kind == TokenKind::Identifier && is_symbol(peek(1), ",")) {
      p.field.alias = advance().text;
      advance();
    }
    const Token& name = peek();
    if (name.kind != TokenKind::String && name.kind != TokenKind::Parameter) {
      return expected("a counter name (string or $parameter)");
    }
    p.field.text = name.text;
    Operand operand;
    RQL_CHECK(parse_value(operand));
    p.counter = std::move(operand);
    return expect_symbol(")");
  }

  // ---- select ----
  Status parse_select(Query& q) {
    if (peek().kind == TokenKind::Block) {
      return unsupported("select { ... } (JavaScript projections)", peek().position);
    }
    if (is_keyword(peek(), "distinct") && !follows_field(peek(1))) {
      advance();
      q.distinct = true;
      if (peek().kind == TokenKind::Block) {
        return unsupported("select distinct { ... } (JavaScript projections)", peek().position);
      }
    }
    // `select *`: whole documents, as without select.
    if (is_symbol(peek(), "*")) {
      advance();
      return Status::Ok();
    }
    while (true) {
      const Token& t = peek();
      Projection p;
      if (is_keyword(t, "counter") && is_symbol(peek(1), "(")) {
        RQL_CHECK(parse_counter_projection(p));
      } else if (t.kind == TokenKind::Identifier && is_symbol(peek(1), "(") && !is_keyword(t, "id")) {
        return unsupported(t.text + "() in select", t.position);
      } else {
        RQL_CHECK(parse_field(p.field));
      }
      if (is_keyword(peek(), "as")) {
        advance();
        const Token& name = peek();
        if (name.kind != TokenKind::Identifier && name.kind != TokenKind::String) {
          return expected("a projection name");
        }
        if (name.text.empty()) return invalid("an empty projection name", name.position);
        p.name = advance().text;
      }
      q.select.push_back(std::move(p));
      if (!is_symbol(peek(), ",")) return Status::Ok();
      advance();
    }
  }

  // ---- include ----
  Status parse_includes(Query& q) {
    while (true) {
      const Token& t = peek();
      Include inc;
      if (t.kind == TokenKind::Identifier && is_symbol(peek(1), "(")) {
        if (is_keyword(t, "counters")) {
          RQL_CHECK(parse_counters(inc));
        } else if (is_keyword(t, "cmpxchg")) {
          advance();
          advance();
          inc.kind = Include::Kind::CompareExchange;
          const Token& arg = peek();
          if (arg.kind == TokenKind::Parameter) {
            inc.key = Parameter{arg.text, arg.position};
            advance();
          } else if (arg.kind == TokenKind::String) {
            RQL_CHECK(path_from_string(arg, inc.path));
            advance();
          } else {
            RQL_CHECK(parse_field(inc.path));
          }
          RQL_CHECK(expect_symbol(")"));
        } else if (is_keyword(t, "timings") && is_symbol(peek(2), ")")) {
          advance();
          advance();
          advance();
          q.timings = true;
          if (!is_symbol(peek(), ",")) return Status::Ok();
          advance();
          continue;
        } else {
          return unsupported("include " + t.text + "()", t.position);
        }
      } else if (t.kind == TokenKind::String) {
        RQL_CHECK(path_from_string(t, inc.path));
        advance();
      } else {
        RQL_CHECK(parse_field(inc.path));
      }
      q.includes.push_back(std::move(inc));
      if (!is_symbol(peek(), ",")) return Status::Ok();
      advance();
    }
  }

  // counters(), counters(path), counters('a', $p), counters(path, 'a', ...).
  Status parse_counters(Include& inc) {
    advance();
    advance();
    inc.kind = Include::Kind::AllCounters;
    bool need_name = false;
    if (peek().kind == TokenKind::Identifier) {
      RQL_CHECK(parse_field(inc.path));
      if (!is_symbol(peek(), ",")) return expect_symbol(")");
      advance();
      need_name = true;
    }
    if (is_symbol(peek(), ")") && !need_name) {
      advance();
      return Status::Ok();
    }
    while (true) {
      const Token& t = peek();
      if (t.kind != TokenKind::String && t.kind != TokenKind::Parameter) {
        return expected("a counter name (string or $parameter)");
      }
      Operand name;
      RQL_CHECK(parse_value(name));
      inc.counters.push_back(std::move(name));
      if (!is_symbol(peek(), ",")) break;
      advance();
    }
    inc.kind = Include::Kind::Counters;
    return expect_symbol(")");
  }

  // ---- limit ----
  Status parse_limit_value(std::optional<Operand>& out) {
    const Token& t = peek();
    if (t.kind == TokenKind::Parameter) {
      out = Parameter{t.text, t.position};
    } else if (t.kind == TokenKind::Integer && t.integer >= 0) {
      out = Literal{boost::json::value(t.integer)};
    } else {
      return expected("a non-negative integer or $parameter");
    }
    advance();
    return Status::Ok();
  }

  Status parse_limit(Query& q) {
    std::optional<Operand> first;
    RQL_CHECK(parse_limit_value(first));
    if (is_symbol(peek(), ",")) {
      advance();
      q.offset = std::move(first);
      return parse_limit_value(q.limit);
    }
    q.limit = std::move(first);
    if (is_keyword(peek(), "offset")) {
      advance();
      return parse_limit_value(q.offset);
    }
    return Status::Ok();
  }

  // ---- aliases ----
  // Moves a leading declared alias (`u.Name`, `c.Name`) into FieldPath::alias.
  // Done after the whole query is read: `where c.Name` may precede `load ... as c`.
  Status resolve_aliases(Query& q) {
    std::set<std::string> aliases;
    if (!q.alias.empty()) aliases.insert(q.alias);
    for (const Load& l : q.loads) {
      if (!aliases.insert(l.alias).second) {
        return invalid("alias '" + l.alias + "' declared twice", l.path.position);
      }
    }
    auto resolve = [&](FieldPath& f) -> Status {
      if (f.is_id) {
        if (!f.alias.empty() && !aliases.count(f.alias)) {
          return invalid("id(" + f.alias + ") names an undeclared alias", f.position);
        }
        return Status::Ok();
      }
      if (f.segments.empty() || f.segments[0].each) return Status::Ok();
      const std::string& first = f.segments[0].name;
      // Only an unquoted first segment is an alias: "'u'.Name" is the field u.
      const bool unquoted = f.text.compare(0, first.size(), first) == 0 &&
                            (f.text.size() == first.size() || f.text[first.size()] == '.');
      if (!aliases.count(first) || !unquoted) return Status::Ok();
      f.alias = first;
      f.text = f.text.size() > first.size() ? f.text.substr(first.size() + 1) : std::string();
      f.segments.erase(f.segments.begin());
      return Status::Ok();
    };
    std::vector<Expression*> pending;
    if (q.where) pending.push_back(q.where.get());
    while (!pending.empty()) {
      Expression* e = pending.back();
      pending.pop_back();
      if (auto* c = std::get_if<Comparison>(&e->node)) RQL_CHECK(resolve(c->field));
      if (auto* in = std::get_if<InList>(&e->node)) RQL_CHECK(resolve(in->field));
      if (auto* b = std::get_if<Between>(&e->node)) RQL_CHECK(resolve(b->field));
      if (auto* m = std::get_if<MethodCall>(&e->node)) RQL_CHECK(resolve(m->field));
      if (auto* a = std::get_if<And>(&e->node)) {
        pending.push_back(a->left.get());
        pending.push_back(a->right.get());
      }
      if (auto* o = std::get_if<Or>(&e->node)) {
        pending.push_back(o->left.get());
        pending.push_back(o->right.get());
      }
      if (auto* n = std::get_if<Not>(&e->node)) pending.push_back(n->operand.get());
    }
    for (Load& l : q.loads) RQL_CHECK(resolve(l.path));
    for (OrderBy& o : q.order_by) RQL_CHECK(resolve(o.field));
    for (Include& i : q.includes) RQL_CHECK(resolve(i.path));
    for (Projection& p : q.select) {
      if (p.counter) {
        // Counters of loaded documents would need the runner to read them too.
        if (!p.field.alias.empty() && !iequals(p.field.alias, q.alias)) {
          return unsupported("counter(" + p.field.alias + ", ...) of a document other than the queried one",
                             p.field.position);
        }
        // A literal name names the projection; a $parameter's is known when the query runs.
        if (const auto* literal = std::get_if<Literal>(&*p.counter); literal && p.name.empty())
          p.name = std::string(literal->value.as_string());
        continue;
      }
      RQL_CHECK(resolve(p.field));
      if (!p.name.empty()) continue;
      if (p.field.is_id)
        p.name = "Id";
      else if (!p.field.segments.empty())
        p.name = p.field.segments.back().name;
      else
        p.name = p.field.alias;
    }
    return Status::Ok();
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t index_ = 0;
  size_t conditions_ = 0;
};

#undef RQL_CHECK

}  // namespace

Result<Query> parse_rql(std::string_view text) { return Parser(text).run(); }

}  // namespace corvus::query
