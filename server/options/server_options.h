#pragma once
// ServerOptions: corvusd's command-line / environment configuration.
//
// parse_server_options() is a pure function of argv and an environment map (main()
// passes the real environment, tests pass their own), so it has no hidden state and
// is thread-safe. Precedence: flag > environment variable > default.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/status.h"

namespace corvus::server {

struct ServerOptions {
  // URL the HTTP listener binds to: http://, or https:// with --certificate.
  // "0.0.0.0" listens on every interface (without a certificate only with
  // --unsecured-allow-public). Default: http://127.0.0.1:8080
  std::string server_url = "http://127.0.0.1:8080";
  // Filled from server_url by parse_server_options(): host to bind (IPv6 without
  // brackets) and port (0 = any free port). Default: 127.0.0.1 / 8080
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  // Directory holding the cluster state and one sub-directory per database.
  // Default: ./corvus-data
  std::string data_dir = "./corvus-data";
  // trace, debug, info, warn or error. Requests are logged at debug.
  // Default: info
  std::string log_level = "info";
  // Largest request body accepted; bigger requests get 413 before the body is read.
  // Larger allows bigger batches, at the cost of memory per connection.
  // Default: 64 MiB
  size_t max_body_bytes = 64 * 1024 * 1024;
  // Bytes of the RocksDB block cache every database and index of this node
  // shares (blocks of documents and index entries, decompressed and checked).
  // More keeps more of the working set a hash lookup away. Default: a quarter
  // of the machine's memory (0 here means that).
  size_t cache_bytes = 0;
  // Bytes per second the node's memtable flushes and compactions may write,
  // all databases together; 0 = unbounded. Bounded, a flush spreads over a
  // little more time instead of taking a core and the disk in one burst, and
  // the writes acknowledged meanwhile (and the replicated batches applied)
  // do not stall behind it. 128 MiB/s keeps a bulk insert at its unbounded
  // rate on this project's machine (bench/README.md, "Background writes").
  // Default: 128 MiB/s.
  size_t background_write_bytes_per_second = 128u << 20;
  // A Changes API client whose queue of unsent events passes either limit is
  // disconnected with the reason. Defaults: 10000 events, 10 MiB.
  size_t changes_max_queued_events = 10'000;
  size_t changes_max_queued_bytes = 10 * 1024 * 1024;
  // Limits of one patch script run (server/scripting): wall time, and what
  // the process may grow by while it runs. Past either the run is stopped and
  // the request answered 400, nothing written. Defaults: 5000 ms, 256 MiB
  int script_timeout_ms = 5000;
  size_t script_max_memory_bytes = 256u * 1024 * 1024;
  // HTTP I/O threads; 0 = one per hardware thread. Default: 0
  int threads = 0;
  // Seconds a connection may take to send its next complete request before it
  // is closed (idle keep-alive connections, trickling senders). Default: 120
  int read_timeout_seconds = 120;
  // Node tag to propose when this node creates or joins a cluster ("A", "B", ...);
  // empty lets the cluster choose. Default: empty
  std::string node_tag_hint;
  // URL other nodes and clients should use to reach this node (behind NAT/proxy);
  // empty = server_url. Default: empty
  std::string public_server_url;
  // The TCP listener the data subscription workers dial ("tcp://host:port",
  // advertised by GET /info/tcp); empty = the HTTP host and any free port. With
  // --certificate it speaks TLS with the same certificate and authorizes each
  // connection's client certificate. Default: empty
  std::string tcp_url;
  // Port of the Rachis (Raft) listener other nodes dial; -1 = the HTTP port + 1
  // (or any free port when that one is taken or the HTTP port is 0). Default: -1
  int cluster_port = -1;
  // host:port other nodes should dial to reach this node's Rachis listener (e.g. a
  // proxy in front of it); empty = the HTTP host (the public URL's host when
  // listening on 0.0.0.0 or ::) and the cluster port. Default: empty
  std::string cluster_advertise;
  // Length of one Raft tick in milliseconds; leaders heartbeat every tick. Smaller
  // fails over faster, at the cost of more traffic. Default: 100
  int cluster_tick_ms = 100;
  // Election timeout in ticks (randomized up to twice that). Default: 10
  int cluster_election_ticks = 10;
  // Thumbprints (SHA-1 of the DER, hex) of client certificates that have
  // ClusterAdmin clearance without being registered (RavenDB's
  // Security.WellKnownCertificates.Admin): how an operator gets in before
  // registering anyone. Only matters on a secured server. Repeatable, or
  // comma-separated. Default: none
  std::vector<std::string> admin_certificate_thumbprints;
  // The same by public key pin (base64 SHA-256 of the SubjectPublicKeyInfo,
  // what --self-signed-certificate prints as "Server Key Hash"): survives the
  // certificate being re-issued over the same key. Default: none
  std::vector<std::string> admin_certificate_key_hashes;
  // How long a database member may not answer before the leader's supervisor
  // moves it to Rehab (the clients then prefer other members). Shorter reacts
  // faster but flaps on a slow node. Default: 15
  int database_rehab_grace_seconds = 15;
  // The node's certificate: PEM (certificate and private key in one file) or
  // PKCS#12 (.pfx). Set: the HTTP port serves HTTPS and --server-url must be
  // https://. Default: empty (plain HTTP)
  std::string certificate_path;
  // Password of the PKCS#12 file or of the PEM private key. Default: empty
  std::string certificate_password;
  // Instead of --certificate: keep a key pair in the data directory and sign
  // a fresh self-signed certificate over it at every start
  // (security/node_certificate.h); peers and clients pin its key hash.
  // Needs an https:// --server-url. Default: false
  bool self_signed_certificate = false;
  // Without a certificate, allow binding a non-loopback address (plain HTTP,
  // no authentication, reachable from the network). Default: false
  bool unsecured_allow_public = false;
  // Tests only: failpoints can be armed through /admin/failpoints. Default: false
  bool enable_failpoints = false;
  // True when --help / -h was given; the caller prints server_options_help() and exits.
  // Default: false
  bool help_requested = false;
};

// Parses argv (argv[0] is skipped) and `env` (e.g. {"CORVUS_DATA_DIR": "/var/lib/corvus"}).
// Flags take "--flag=value" or "--flag value". Errors: InvalidArgument naming the
// flag or variable and what is wrong (unknown flag, missing value, bad number, bad
// size, bad URL, unknown log level, https URL).
Result<ServerOptions> parse_server_options(int argc, char** argv, const std::map<std::string, std::string>& env);

// The start-up checks of the security options (RavenDB refuses the same
// things): an https:// --server-url needs --certificate and --certificate
// needs https://; without a certificate only a loopback address (127.0.0.0/8,
// ::1, localhost) is bound unless unsecured_allow_public. Errors:
// InvalidArgument saying what to change. Pure; thread-safe.
Status check_security_options(const ServerOptions& options);

// True for 127.0.0.0/8, ::1 and "localhost" (host names are not resolved).
bool is_loopback_host(std::string_view host);

// Multi-line help: each flag, its environment variable and its default.
std::string server_options_help();

// Parses a byte size: "1048576", "10KB", "64MiB", "1GB", "512k". K/KB/KiB, M/MB/MiB,
// G/GB/GiB are all powers of 1024 (case-insensitive). Errors: InvalidArgument.
Result<size_t> parse_byte_size(std::string_view text);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool https = false;
};
// A node's URL: "http://host[:port][/]" (IPv6 as [::1]; port defaults to
// 80) or "https://host[:port][/]" (443, `https` set). Errors:
// InvalidArgument (other schemes, paths, bad port).
Result<HostPort> parse_http_url(std::string_view url);
// The listener's URL: the same syntax.
Result<HostPort> parse_listen_url(std::string_view url);
// --tcp-url: "tcp://host:port" (IPv6 as [::1]), the port required.
Result<HostPort> parse_tcp_url(std::string_view url);

}  // namespace corvus::server
