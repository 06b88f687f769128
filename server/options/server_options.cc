#include "server/options/server_options.h"

#include <charconv>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

namespace corvus::server {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

struct OptionSpec {
  const char* flag;  // without leading "--"
  const char* env;
  const char* meta;
  const char* def;
  const char* help;
  // Applies a value; returns an error message, empty on success.
  std::function<std::string(ServerOptions&, std::string_view)> apply;
};

std::string check_log_level(std::string_view v) {
  std::string l = to_lower(v);
  if (l == "trace" || l == "debug" || l == "info" || l == "warn" || l == "warning" || l == "error") return "";
  return "unknown log level '" + std::string(v) + "' (expected trace, debug, info, warn or error)";
}

const std::vector<OptionSpec>& specs() {
  static const std::vector<OptionSpec> kSpecs = {
      {"server-url", "CORVUS_SERVER_URL", "URL", "http://127.0.0.1:8080",
       "address to listen on: http://, or https:// with --certificate (port 0: any free port)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto hp = parse_listen_url(v);
         if (!hp.ok()) return hp.status().message();
         o.server_url = std::string(v);
         o.host = hp->host;
         o.port = hp->port;
         return "";
       }},
      {"data-dir", "CORVUS_DATA_DIR", "DIR", "./corvus-data", "directory for cluster state and databases",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v.empty()) return "must not be empty";
         o.data_dir = std::string(v);
         return "";
       }},
      {"log-level", "CORVUS_LOG_LEVEL", "LEVEL", "info", "trace, debug, info, warn or error",
       [](ServerOptions& o, std::string_view v) -> std::string {
         std::string err = check_log_level(v);
         if (err.empty()) o.log_level = to_lower(v) == "warning" ? "warn" : to_lower(v);
         return err;
       }},
      {"max-body-size", "CORVUS_MAX_BODY_SIZE", "SIZE", "64MiB",
       "largest accepted request body, e.g. 1048576, 10KB, 64MiB (K/M/G are 1024-based)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto n = parse_byte_size(v);
         if (!n.ok()) return n.status().message();
         if (*n == 0) return "must be greater than 0";
         o.max_body_bytes = *n;
         return "";
       }},
      {"cache-size", "CORVUS_CACHE_SIZE", "SIZE", "(a quarter of RAM)",
       "block cache shared by every database and index of this node, e.g. 512MiB, 4GiB "
       "(its slot table, ~20 MB per GB, is allocated at start)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto n = parse_byte_size(v);
         if (!n.ok()) return n.status().message();
         if (*n < (1u << 20)) return "must be at least 1MiB";
         o.cache_bytes = *n;
         return "";
       }},
      {"background-write-rate", "CORVUS_BACKGROUND_WRITE_RATE", "SIZE", "128MiB",
       "bytes per second that flushes and compactions of all databases may write, e.g. 64MiB; 0 = unbounded "
       "(a bound spreads them out, so acknowledged writes do not stall behind a burst)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto n = parse_byte_size(v);
         if (!n.ok()) return n.status().message();
         if (*n != 0 && *n < (1u << 20)) return "must be 0 (unbounded) or at least 1MiB";
         o.background_write_bytes_per_second = *n;
         return "";
       }},
      {"changes-max-queued-events", "CORVUS_CHANGES_MAX_QUEUED_EVENTS", "N", "10000",
       "a Changes API client with more unsent events is disconnected",
       [](ServerOptions& o, std::string_view v) -> std::string {
         size_t n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n == 0) return "must be a number greater than 0";
         o.changes_max_queued_events = n;
         return "";
       }},
      {"changes-max-queued-size", "CORVUS_CHANGES_MAX_QUEUED_SIZE", "SIZE", "10MiB",
       "a Changes API client with more unsent bytes is disconnected",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto n = parse_byte_size(v);
         if (!n.ok()) return n.status().message();
         if (*n == 0) return "must be greater than 0";
         o.changes_max_queued_bytes = *n;
         return "";
       }},
      {"threads", "CORVUS_THREADS", "N", "0", "HTTP I/O threads; 0 = one per hardware thread",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 0 || n > 1024) {
           return "expected a whole number from 0 to 1024, got '" + std::string(v) + "'";
         }
         o.threads = n;
         return "";
       }},
      {"read-timeout", "CORVUS_READ_TIMEOUT", "SECONDS", "120",
       "close a connection that sends no complete request for this long (idle keep-alive, slow senders)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 86400) {
           return "expected whole seconds from 1 to 86400, got '" + std::string(v) + "'";
         }
         o.read_timeout_seconds = n;
         return "";
       }},
      {"script-timeout", "CORVUS_SCRIPT_TIMEOUT", "MS", "5000",
       "a patch script running longer than this many milliseconds is stopped (400, nothing written)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 3'600'000) {
           return "expected whole milliseconds from 1 to 3600000, got '" + std::string(v) + "'";
         }
         o.script_timeout_ms = n;
         return "";
       }},
      {"script-max-memory", "CORVUS_SCRIPT_MAX_MEMORY", "SIZE", "256MiB",
       "a patch script allocating more than this is stopped (400, nothing written), e.g. 64MiB",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto n = parse_byte_size(v);
         if (!n.ok()) return n.status().message();
         if (*n < (8u << 20) || *n > (4096ull << 20)) return "must be from 8MiB to 4GiB";
         o.script_max_memory_bytes = *n;
         return "";
       }},
      {"tcp-url", "CORVUS_TCP_URL", "URL", "(server host, free port)",
       "TCP listener for data subscription workers (tcp://host:port)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (auto hp = parse_tcp_url(v); !hp.ok()) return hp.status().message();
         o.tcp_url = std::string(v);
         return "";
       }},
      {"public-server-url", "CORVUS_PUBLIC_SERVER_URL", "URL", "(server-url)",
       "URL other nodes and clients use to reach this node",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
           return "expected an http:// or https:// URL, got '" + std::string(v) + "'";
         }
         o.public_server_url = std::string(v);
         return "";
       }},
      {"node-tag", "CORVUS_NODE_TAG", "TAG", "(chosen by the cluster)",
       "node tag to propose for this node: 1-4 upper-case letters",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v.empty() || v.size() > 4) return "expected 1-4 upper-case letters, got '" + std::string(v) + "'";
         for (char c : v) {
           if (c < 'A' || c > 'Z') return "expected 1-4 upper-case letters, got '" + std::string(v) + "'";
         }
         o.node_tag_hint = std::string(v);
         return "";
       }},
      {"cluster-port", "CORVUS_CLUSTER_PORT", "PORT", "(HTTP port + 1)",
       "port of the Rachis listener other cluster nodes connect to; 0 = any free port",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 0 || n > 65535) {
           return "expected a port from 0 to 65535, got '" + std::string(v) + "'";
         }
         o.cluster_port = n;
         return "";
       }},
      {"cluster-advertise", "CORVUS_CLUSTER_ADVERTISE", "HOST:PORT", "(public URL host:cluster-port)",
       "address other nodes dial for Rachis traffic (e.g. a proxy in front of this node)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         auto colon = v.rfind(':');
         if (colon == std::string_view::npos || colon == 0 || colon + 1 == v.size()) {
           return "expected host:port, got '" + std::string(v) + "'";
         }
         o.cluster_advertise = std::string(v);
         return "";
       }},
      {"cluster-tick-ms", "CORVUS_CLUSTER_TICK_MS", "MS", "100",
       "Raft tick in milliseconds (heartbeat interval; election timeout = ticks x this)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 60000) {
           return "expected milliseconds from 1 to 60000, got '" + std::string(v) + "'";
         }
         o.cluster_tick_ms = n;
         return "";
       }},
      {"cluster-election-ticks", "CORVUS_CLUSTER_ELECTION_TICKS", "N", "10",
       "Raft election timeout in ticks (randomized up to twice that)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 3 || n > 1000) {
           return "expected a whole number from 3 to 1000, got '" + std::string(v) + "'";
         }
         o.cluster_election_ticks = n;
         return "";
       }},
      {"admin-certificate-thumbprint", "CORVUS_ADMIN_CERTIFICATE_THUMBPRINT", "THUMBPRINT", "(none)",
       "a client certificate (SHA-1 thumbprint, hex) with ClusterAdmin clearance without registration; repeatable",
       [](ServerOptions& o, std::string_view v) -> std::string {
         std::vector<std::string> parsed;
         while (true) {
           const auto comma = v.find(',');
           std::string t;
           for (char c : v.substr(0, comma)) {
             if (c == ' ' || c == ':') continue;  // "AB:CD:..." as openssl prints it
             if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
             if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
               return "expected SHA-1 thumbprints (40 hex digits), got '" + std::string(v) + "'";
             }
             t.push_back(c);
           }
           if (t.size() != 40) return "expected SHA-1 thumbprints (40 hex digits), got '" + std::string(v) + "'";
           parsed.push_back(std::move(t));
           if (comma == std::string_view::npos) break;
           v.remove_prefix(comma + 1);
         }
         o.admin_certificate_thumbprints.insert(o.admin_certificate_thumbprints.end(), parsed.begin(), parsed.end());
         return "";
       }},
      {"admin-certificate-key-hash", "CORVUS_ADMIN_CERTIFICATE_KEY_HASH", "HASH", "(none)",
       "a client certificate's public key pin (base64 SHA-256 of its public key) with ClusterAdmin clearance; "
       "repeatable",
       [](ServerOptions& o, std::string_view v) -> std::string {
         std::vector<std::string> parsed;
         while (true) {
           const auto comma = v.find(',');
           std::string h(v.substr(0, comma));
           std::erase(h, ' ');
           const bool base64 = h.size() == 44 && h.back() == '=' &&
                               h.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
                                   43;
           if (!base64) {
             return "expected public key hashes (base64 SHA-256, 44 characters ending in '='), got '" +
                    std::string(v) + "'";
           }
           parsed.push_back(std::move(h));
           if (comma == std::string_view::npos) break;
           v.remove_prefix(comma + 1);
         }
         o.admin_certificate_key_hashes.insert(o.admin_certificate_key_hashes.end(), parsed.begin(), parsed.end());
         return "";
       }},
      {"database-rehab-grace", "CORVUS_DATABASE_REHAB_GRACE", "SECONDS", "15",
       "the leader moves a database member that does not answer for this long to Rehab",
       [](ServerOptions& o, std::string_view v) -> std::string {
         int n = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 86400) {
           return "expected a whole number of seconds from 1 to 86400, got '" + std::string(v) + "'";
         }
         o.database_rehab_grace_seconds = n;
         return "";
       }},
      {"certificate", "CORVUS_CERTIFICATE", "PATH", "(none: plain HTTP)",
       "the node's certificate and private key, PEM or PKCS#12 (.pfx): serve HTTPS",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v.empty()) return "must not be empty";
         o.certificate_path = std::string(v);
         return "";
       }},
      {"self-signed-certificate", "CORVUS_SELF_SIGNED_CERTIFICATE", "", "off",
       "instead of --certificate: a key kept in the data directory and a self-signed certificate over it made at "
       "each start; prints the key hash peers and clients pin",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v == "true" || v == "1" || v == "on") {
           o.self_signed_certificate = true;
         } else if (v == "false" || v == "0" || v == "off") {
           o.self_signed_certificate = false;
         } else {
           return "expected true or false, got '" + std::string(v) + "'";
         }
         return "";
       }},
      {"certificate-password", "CORVUS_CERTIFICATE_PASSWORD", "PASSWORD", "(none)",
       "password of the PKCS#12 file or of the PEM private key",
       [](ServerOptions& o, std::string_view v) -> std::string {
         o.certificate_password = std::string(v);
         return "";
       }},
      {"unsecured-allow-public", "CORVUS_UNSECURED_ALLOW_PUBLIC", "", "off",
       "without --certificate, allow listening on a non-loopback address (no TLS, no authentication)",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v == "true" || v == "1" || v == "on") {
           o.unsecured_allow_public = true;
         } else if (v == "false" || v == "0" || v == "off") {
           o.unsecured_allow_public = false;
         } else {
           return "expected true or false, got '" + std::string(v) + "'";
         }
         return "";
       }},
      {"enable-failpoints", "CORVUS_ENABLE_FAILPOINTS", "", "off",
       "tests only: allow arming failpoints (pause/delay/crash at named steps) via /admin/failpoints",
       [](ServerOptions& o, std::string_view v) -> std::string {
         if (v == "true" || v == "1" || v == "on") {
           o.enable_failpoints = true;
         } else if (v == "false" || v == "0" || v == "off") {
           o.enable_failpoints = false;
         } else {
           return "expected true or false, got '" + std::string(v) + "'";
         }
         return "";
       }},
  };
  return kSpecs;
}

const OptionSpec* find_flag(std::string_view name) {
  for (const auto& s : specs()) {
    if (name == s.flag) return &s;
  }
  return nullptr;
}

}  // namespace

Result<size_t> parse_byte_size(std::string_view text) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("bad size '" + std::string(text) + "': " + why +
                                   " (examples: 1048576, 10KB, 64MiB, 1GB)");
  };
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return bad("expected a number");
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc()) return bad("number too large");
  std::string unit = to_lower(text.substr(digits));
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  uint64_t mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    mult = 1024ull;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    mult = 1024ull * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    mult = 1024ull * 1024 * 1024;
  } else {
    return bad("unknown unit '" + std::string(text.substr(digits)) + "'");
  }
  if (n > std::numeric_limits<size_t>::max() / mult) return bad("too large");
  return static_cast<size_t>(n * mult);
}

Result<HostPort> parse_http_url(std::string_view url) { return parse_listen_url(url); }

Result<HostPort> parse_listen_url(std::string_view url) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("bad server URL '" + std::string(url) + "': " + why);
  };
  std::string lowered = to_lower(url);
  const bool https = lowered.rfind("https://", 0) == 0;
  if (!https && lowered.rfind("http://", 0) != 0) return bad("expected http://host:port or https://host:port");
  std::string_view rest = url.substr(https ? 8 : 7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos) {
    return bad("must not contain a path or query");
  }
  HostPort hp;
  hp.https = https;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    hp.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      if (rest.find(':') != colon) return bad("IPv6 addresses must be in brackets, e.g. http://[::1]:8080");
      hp.host = std::string(rest.substr(0, colon));
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    } else {
      hp.host = std::string(rest);
    }
  }
  if (hp.host.empty()) return bad("missing host");
  if (port_text.empty()) {
    hp.port = https ? 443 : 80;
  } else {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p > 65535) {
      return bad("port must be a number from 0 to 65535");
    }
    hp.port = static_cast<uint16_t>(p);
  }
  return hp;
}

Result<HostPort> parse_tcp_url(std::string_view url) {
  const auto bad = Status::InvalidArgument("expected tcp://host:port, got '" + std::string(url) + "'");
  if (url.rfind("tcp://", 0) != 0) return bad;
  const std::string_view rest = url.substr(6);
  // The same host and port rules as the HTTP listener, but the port is not optional.
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || (rest.front() == '[' && colon < rest.find(']')) || rest.back() == '/') {
    return bad;
  }
  auto hp = parse_listen_url("http://" + std::string(rest));
  if (!hp.ok()) return bad;
  return hp;
}

Result<ServerOptions> parse_server_options(int argc, char** argv, const std::map<std::string, std::string>& env) {
  ServerOptions opts;
  // Environment first, so flags override it.
  for (const auto& spec : specs()) {
    auto it = env.find(spec.env);
    if (it == env.end()) continue;
    std::string err = spec.apply(opts, it->second);
    if (!err.empty()) return Status::InvalidArgument("environment variable " + std::string(spec.env) + ": " + err);
  }
  bool admin_thumbprints_from_flags = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i] == nullptr ? std::string_view() : std::string_view(argv[i]);
    if (arg == "--help" || arg == "-h") {
      opts.help_requested = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return Status::InvalidArgument("unexpected argument '" + std::string(arg) + "' (see --help)");
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const OptionSpec* spec = find_flag(name);
    if (spec == nullptr) {
      return Status::InvalidArgument("unknown flag '--" + std::string(name) + "' (see --help)");
    }
    if (!has_value && spec->meta[0] == '\0') {
      value = "true";  // a switch: present means on
    } else if (!has_value) {
      if (i + 1 >= argc || argv[i + 1] == nullptr) {
        return Status::InvalidArgument("flag --" + std::string(name) + " needs a value (" + spec->meta + ")");
      }
      value = argv[++i];
    }
    // The one repeatable flag adds up across occurrences; the flags still win
    // over the environment as a whole.
    if (name == "admin-certificate-thumbprint" && !admin_thumbprints_from_flags) {
      opts.admin_certificate_thumbprints.clear();
      admin_thumbprints_from_flags = true;
    }
    std::string err = spec->apply(opts, value);
    if (!err.empty()) return Status::InvalidArgument("flag --" + std::string(name) + ": " + err);
  }
  return opts;
}

bool is_loopback_host(std::string_view host) {
  if (to_lower(host) == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 written as a dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

Status check_security_options(const ServerOptions& o) {
  auto listen = parse_listen_url(o.server_url);
  if (!listen.ok()) return listen.status();
  if (!o.certificate_path.empty() && o.self_signed_certificate) {
    return Status::InvalidArgument("--certificate and --self-signed-certificate both given: pick one");
  }
  const bool has_certificate = !o.certificate_path.empty() || o.self_signed_certificate;
  if (listen->https && !has_certificate) {
    return Status::InvalidArgument("--server-url " + o.server_url +
                                   " is https but no --certificate was given: pass --certificate PATH (PEM or .pfx) "
                                   "or --self-signed-certificate, or use an http:// URL");
  }
  if (!listen->https && has_certificate) {
    return Status::InvalidArgument(std::string(o.self_signed_certificate ? "--self-signed-certificate" : "--certificate") +
                                   " is set but --server-url " + o.server_url +
                                   " is http://: use https:// (the port serves HTTPS only)");
  }
  if (!has_certificate && !o.unsecured_allow_public && !is_loopback_host(listen->host)) {
    return Status::InvalidArgument(
        "refusing to listen on " + listen->host +
        " without TLS: an unsecured server would be reachable from the network with no authentication. "
        "Pass --certificate PATH with an https:// --server-url, bind a loopback address (127.0.0.1), or "
        "accept the risk with --unsecured-allow-public");
  }
  return Status::Ok();
}

std::string server_options_help() {
  std::string out = "Usage: corvusd [flags]\n\nEvery flag can also be set through its environment variable; "
                    "the flag wins.\n\n";
  for (const auto& s : specs()) {
    std::string left = std::string("  --") + s.flag + " " + s.meta;
    out += left;
    out.append(left.size() < 32 ? 32 - left.size() : 1, ' ');
    out += s.help;
    out += "\n";
    out.append(32, ' ');
    out += "env ";
    out += s.env;
    out += ", default ";
    out += s.def;
    out += "\n";
  }
  out += "  -h, --help                    show this help\n";
  return out;
}

}  // namespace corvus::server
