#include "server/logging/logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace corvus::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::Info)};

struct Output {
  std::mutex mu;
  std::function<void(std::string_view)> sink;  // empty -> stderr
};

Output& output() {
  static Output* out = new Output();  // never destroyed: logging may happen during exit
  return *out;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

void append_quoted(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void emit(std::string& line) {
  line.push_back('\n');
  Output& out = output();
  std::lock_guard lock(out.mu);
  if (out.sink) {
    out.sink(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

std::string start_line(Level level, std::string_view text) {
  auto now = std::chrono::system_clock::now();
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::string line;
  line.reserve(64 + text.size());
  line = format_timestamp(ms);
  line.push_back(' ');
  line += level_tag(level);
  line.push_back(' ');
  line += text;
  return line;
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  if (iequals(text, "trace")) return Level::Trace;
  if (iequals(text, "debug")) return Level::Debug;
  if (iequals(text, "info")) return Level::Info;
  if (iequals(text, "warn") || iequals(text, "warning")) return Level::Warn;
  if (iequals(text, "error")) return Level::Error;
  return std::nullopt;
}

std::string_view level_tag(Level level) {
  switch (level) {
    case Level::Trace: return "TRACE";
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO ";
    case Level::Warn: return "WARN ";
    case Level::Error: return "ERROR";
  }
  return "?????";
}

void set_level(Level lvl) { g_level.store(static_cast<int>(lvl), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }
bool enabled(Level lvl) { return static_cast<int>(lvl) >= g_level.load(std::memory_order_relaxed); }

void set_sink(std::function<void(std::string_view)> sink) {
  Output& out = output();
  std::lock_guard lock(out.mu);
  out.sink = std::move(sink);
}

void write(Level lvl, std::string_view text) {
  if (!enabled(lvl)) return;
  std::string line = start_line(lvl, text);
  emit(line);
}

std::string format_timestamp(int64_t unix_ms) {
  int64_t secs = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

Event::Event(Level lvl, std::string_view text) : level_(lvl), active_(enabled(lvl)) {
  if (active_) line_ = start_line(lvl, text);
}

Event::Event(Event&& other) noexcept
    : level_(other.level_), active_(other.active_), line_(std::move(other.line_)) {
  other.active_ = false;
}

Event::~Event() {
  if (active_) emit(line_);
}

Event& Event::kv(std::string_view key, std::string_view value) & {
  if (!active_) return *this;
  line_.push_back(' ');
  line_ += key;
  line_.push_back('=');
  if (needs_quotes(value)) {
    append_quoted(line_, value);
  } else {
    line_ += value;
  }
  return *this;
}

}  // namespace corvus::log
