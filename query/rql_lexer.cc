#include "query/rql_lexer.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>

namespace corvus::query {
namespace {

bool is_letter(unsigned char c) {
  // Bytes of UTF-8 sequences count as letters so non-ASCII names need no quotes.
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// Identifiers are what the clients leave unquoted (QueryFieldUtil.escapeIfNecessary):
// they start with a letter, '_' or '@' and go on with letters, digits, '_', '-', '@'.
bool starts_identifier(unsigned char c) { return is_letter(c) || c == '_' || c == '@'; }
bool continues_identifier(unsigned char c) {
  return is_letter(c) || is_digit(c) || c == '_' || c == '-' || c == '@';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (true) {
      Token t = next();
      const bool last = t.kind == TokenKind::End || t.kind == TokenKind::Error;
      tokens.push_back(std::move(t));
      if (last) return tokens;
    }
  }

 private:
  Token next() {
    skip_space_and_comments();
    if (error_) return std::move(*error_);
    Token t;
    t.position = pos_;
    if (pos_ >= text_.size()) {
      t.kind = TokenKind::End;
      return t;
    }
    const unsigned char c = text_[pos_];
    if (starts_identifier(c)) return identifier();
    if (is_digit(c) || (c == '-' && starts_number(pos_ + 1))) return number();
    if (c == '.' && starts_number(pos_)) return number();
    if (c == '\'' || c == '"') return string();
    if (c == '$') return parameter();
    if (c == '{') return block();
    return symbol();
  }

  // A digit, or '.' then a digit, at `at`.
  bool starts_number(size_t at) const {
    if (at >= text_.size()) return false;
    if (is_digit(text_[at])) return true;
    return text_[at] == '.' && at + 1 < text_.size() && is_digit(text_[at + 1]);
  }

  Token make_error(size_t position, std::string message) {
    Token t;
    t.kind = TokenKind::Error;
    t.position = position;
    t.length = position < text_.size() ? 1 : 0;
    t.text = std::move(message);
    return t;
  }

  void skip_space_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        const size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) {
          error_ = make_error(pos_, "unterminated comment");
          pos_ = text_.size();
          return;
        }
        pos_ = end + 2;
      } else {
        return;
      }
    }
  }

  Token identifier() {
    Token t;
    t.kind = TokenKind::Identifier;
    t.position = pos_;
    size_t end = pos_ + 1;
    while (end < text_.size() && continues_identifier(text_[end])) ++end;
    t.text = std::string(text_.substr(pos_, end - pos_));
    t.length = end - pos_;
    pos_ = end;
    return t;
  }

  Token number() {
    const size_t start = pos_;
    size_t end = pos_;
    if (text_[end] == '-') ++end;
    bool fraction = false;
    bool separators = false;  // 10_000, as RavenDB allows in integers
    while (end < text_.size() &&
           (is_digit(text_[end]) || (text_[end] == '_' && end > start && is_digit(text_[end - 1]) &&
                                     end + 1 < text_.size() && is_digit(text_[end + 1])))) {
      separators = separators || text_[end] == '_';
      ++end;
    }
    if (end < text_.size() && text_[end] == '.' && end + 1 < text_.size() &&
        is_digit(text_[end + 1])) {
      fraction = true;
      ++end;
      while (end < text_.size() && is_digit(text_[end])) ++end;
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t e = end + 1;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
      if (e < text_.size() && is_digit(text_[e])) {
        fraction = true;
        while (e < text_.size() && is_digit(text_[e])) ++e;
        end = e;
      }
    }
    if ((separators && fraction) || (end < text_.size() && continues_identifier(text_[end]))) {
      pos_ = text_.size();
      return make_error(
          start, "malformed number '" + std::string(text_.substr(start, end + 1 - start)) + "'");
    }
    Token t;
    t.position = start;
    t.length = end - start;
    std::string digits(text_.substr(start, end - start));
    std::erase(digits, '_');
    pos_ = end;
    if (!fraction) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) {
        t.kind = TokenKind::Integer;
        t.integer = v;
        return t;
      }
    }
    // Fractions, exponents and integers beyond int64 are doubles.
    t.kind = TokenKind::Double;
    t.number = std::strtod(digits.c_str(), nullptr);
    return t;
  }

  // 'text' or "text". Escapes: the JSON ones the clients write (\" \\ \/ \b \f \n
  // \r \t \uXXXX), \' (how the clients escape a quote), and a doubled quote
  // ('it''s', the clients' random('seed') form). Any other backslash is kept with
  // the character after it, so regex('\d+') means what it says.
  Token string() {
    const size_t start = pos_;
    const char quote = text_[pos_];
    std::string value;
    size_t i = pos_ + 1;
    while (true) {
      if (i >= text_.size()) {
        pos_ = text_.size();
        return make_error(start, "unterminated string");
      }
      const char c = text_[i];
      if (c == quote) {
        if (i + 1 < text_.size() && text_[i + 1] == quote) {
          value += quote;
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) {
        pos_ = text_.size();
        return make_error(start, "unterminated string");
      }
      const char e = text_[i + 1];
      i += 2;
      switch (e) {
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\\': value += '\\'; break;
        case '/': value += '/'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!read_hex4(i, cp)) {
            pos_ = text_.size();
            return make_error(i - 2, "malformed \\u escape in string");
          }
          i += 4;
          // A high surrogate followed by \uDC00-\uDFFF is one code point (JSON.stringify
          // leaves astral characters raw, but hand-written queries may pair them).
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < text_.size() && text_[i] == '\\' &&
              text_[i + 1] == 'u') {
            uint32_t low = 0;
            if (read_hex4(i + 2, low) && low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
            }
          }
          append_utf8(value, cp);
          break;
        }
        default: value += '\\'; value += e;
      }
    }
    Token t;
    t.kind = TokenKind::String;
    t.position = start;
    t.length = i - start;
    t.text = std::move(value);
    t.quote = quote;
    pos_ = i;
    return t;
  }

  bool read_hex4(size_t at, uint32_t& out) const {
    if (at + 4 > text_.size()) return false;
    out = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int h = hex_value(text_[at + k]);
      if (h < 0) return false;
      out = out * 16 + static_cast<uint32_t>(h);
    }
    return true;
  }

  Token parameter() {
    const size_t start = pos_;
    size_t end = pos_ + 1;
    while (end < text_.size() &&
           (is_letter(text_[end]) || is_digit(text_[end]) || text_[end] == '_')) {
      ++end;
    }
    if (end == start + 1) {
      pos_ = text_.size();
      return make_error(start, "expected a parameter name after '$'");
    }
    Token t;
    t.kind = TokenKind::Parameter;
    t.position = start;
    t.length = end - start;
    t.text = std::string(text_.substr(start + 1, end - start - 1));
    pos_ = end;
    return t;
  }

  Token block() {
    const size_t start = pos_;
    const size_t end = find_block_end(text_, start);
    if (end == std::string_view::npos) {
      pos_ = text_.size();
      return make_error(start, "unterminated '{' block");
    }
    Token t;
    t.kind = TokenKind::Block;
    t.position = start;
    t.length = end - start;
    t.text = std::string(text_.substr(start + 1, end - start - 2));
    pos_ = end;
    return t;
  }

  Token symbol() {
    static constexpr std::string_view kTwoChar[] = {"==", "!=", "<>", "<=", ">="};
    Token t;
    t.kind = TokenKind::Symbol;
    t.position = pos_;
    for (std::string_view two : kTwoChar) {
      if (text_.substr(pos_, 2) == two) {
        t.text = std::string(two);
        t.length = 2;
        pos_ += 2;
        return t;
      }
    }
    const char c = text_[pos_];
    static constexpr std::string_view kOneChar = "(),.[]=<>*";
    if (kOneChar.find(c) == std::string_view::npos) {
      const size_t at = pos_;
      pos_ = text_.size();
      return make_error(at, "unexpected character");
    }
    t.text = std::string(1, c);
    t.length = 1;
    ++pos_;
    return t;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::optional<Token> error_;
};

}  // namespace

size_t find_block_end(std::string_view text, size_t open) {
  // Contexts: '{' a JS block, '`' inside a template literal, '$' inside a
  // template literal's ${ } (code again, closed by '}').
  std::vector<char> stack{'{'};
  size_t i = open + 1;
  while (i < text.size()) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (stack.back() == '`') {
      if (c == '\\') {
        i += 2;
      } else if (c == '`') {
        stack.pop_back();
        ++i;
      } else if (c == '$' && next == '{') {
        stack.push_back('$');
        i += 2;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      ++i;
      while (i < text.size() && text[i] != c) i += text[i] == '\\' ? 2 : 1;
      if (i >= text.size()) return std::string_view::npos;
      ++i;
    } else if (c == '`') {
      stack.push_back('`');
      ++i;
    } else if (c == '/' && next == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '/' && next == '*') {
      const size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return std::string_view::npos;
      i = end + 2;
    } else if (c == '{') {
      stack.push_back('{');
      ++i;
    } else if (c == '}') {
      stack.pop_back();
      ++i;
      if (stack.empty()) return i;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

std::vector<Token> tokenize_rql(std::string_view text) { return Scanner(text).run(); }

}  // namespace corvus::query
