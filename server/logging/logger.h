#pragma once
// corvus::log: one line per event, written to stderr (or a test sink).
//
//   2026-11-21T10:11:12.123Z INFO  http listening host=127.0.0.1 port=8080
//
// The process has one logger (free functions, no object to own). The level is an
// atomic read on every call, so a disabled level costs one relaxed load; the line
// itself is formatted in a local buffer and written with a single write under a
// mutex, so lines from different threads never interleave. All functions are
// thread-safe.
//
// Usage:
//   log::info("database opened").kv("db", name).kv("ms", elapsed);
//   if (log::enabled(log::Level::Debug)) { ...expensive... }
// The Event returned by info()/debug()/... writes its line when it is destroyed
// (end of the full expression). kv() on an Event of a disabled level is a no-op.

#include <atomic>
#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace corvus::log {

enum class Level { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 };

// "trace", "debug", "info", "warn" (or "warning"), "error"; case-insensitive.
// nullopt for anything else.
std::optional<Level> parse_level(std::string_view text);
// Fixed 5-character tag used in lines: "TRACE", "DEBUG", "INFO ", "WARN ", "ERROR".
std::string_view level_tag(Level level);

// Lines below `level` are dropped. Default: Info.
void set_level(Level level);
Level level();
bool enabled(Level level);

// Replaces the output (default: stderr) e.g. to capture lines in tests. The sink
// receives a full line including the trailing '\n', called under the logger mutex
// (so it must not log). Pass nullptr to restore stderr.
void set_sink(std::function<void(std::string_view line)> sink);

// Writes one already-formatted event text (timestamp and level are added).
void write(Level level, std::string_view text);

// One log line under construction. Movable, not copyable; writes on destruction.
class Event {
 public:
  Event(Level level, std::string_view text);
  Event(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event& operator=(Event&&) = delete;
  ~Event();

  // Appends " key=value". Values containing spaces, quotes, '=' or control
  // characters (or empty ones) are written quoted with \" and \\ escaped.
  Event& kv(std::string_view key, std::string_view value) &;
  Event&& kv(std::string_view key, std::string_view value) && { return std::move(kv(key, value)); }
  Event& kv(std::string_view key, const char* value) & { return kv(key, std::string_view(value)); }
  Event&& kv(std::string_view key, const char* value) && { return std::move(kv(key, value)); }
  Event& kv(std::string_view key, const std::string& value) & { return kv(key, std::string_view(value)); }
  Event&& kv(std::string_view key, const std::string& value) && { return std::move(kv(key, value)); }
  Event& kv(std::string_view key, bool value) & { return kv(key, value ? "true" : "false"); }
  Event&& kv(std::string_view key, bool value) && { return std::move(kv(key, value)); }
  template <typename N>
    requires(std::is_arithmetic_v<N> && !std::is_same_v<N, bool>)
  Event& kv(std::string_view key, N value) & {
    if (!active_) return *this;
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    return kv(key, std::string_view(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0));
  }
  template <typename N>
    requires(std::is_arithmetic_v<N> && !std::is_same_v<N, bool>)
  Event&& kv(std::string_view key, N value) && {
    return std::move(kv(key, value));
  }

 private:
  Level level_;
  bool active_;
  std::string line_;
};

inline Event trace(std::string_view text) { return Event(Level::Trace, text); }
inline Event debug(std::string_view text) { return Event(Level::Debug, text); }
inline Event info(std::string_view text) { return Event(Level::Info, text); }
inline Event warn(std::string_view text) { return Event(Level::Warn, text); }
inline Event error(std::string_view text) { return Event(Level::Error, text); }

// Formats a UTC timestamp with millisecond precision: "2026-11-21T10:11:12.123Z".
// `unix_ms` is milliseconds since the Unix epoch. Exposed for tests.
std::string format_timestamp(int64_t unix_ms);

}  // namespace corvus::log
