// corvusd: one Corvus node. Parses options, opens the node's data (locking the
// data directory), registers the routes, listens, and on SIGTERM/SIGINT stops
// accepting, finishes requests in flight, drains the writers and exits.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <map>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <openssl/x509.h>

#include <pthread.h>
#include <unistd.h>

#include "server/handlers/routes.h"
#include "server/external_replication/external_replication_set.h"
#include "server/external_replication/external_replication_tcp_handler.h"
#include "server/http/http_server.h"
#include "server/http/router.h"
#include "server/http/client_certificate.h"
#include "server/http/tls_context.h"
#include "server/logging/logger.h"
#include "server/options/server_options.h"
#include "server/scripting/script_limits.h"
#include "server/security/certificate_upload.h"
#include "server/security/node_certificate.h"
#include "server/pull_replication/hub_tcp_handler.h"
#include "server/server_store.h"
#include "server/subscriptions/subscription_connection.h"
#include "server/tcp/tcp_listener.h"

extern char** environ;

namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// With port 0 the node must still tell the cluster and the clients a real
// URL, and the cluster starts before the HTTP listener: pick the free port
// now (the kernel's choice for an ephemeral bind) and use it everywhere.
corvus::Status resolve_port_zero(corvus::server::ServerOptions& options) {
  if (options.port != 0) return corvus::Status::Ok();
  boost::asio::io_context io;
  boost::system::error_code ec;
  boost::asio::ip::tcp::acceptor probe(io);
  const auto address = boost::asio::ip::make_address(options.host, ec);
  if (ec) return corvus::Status::Ok();  // a host name: the listener reports its own errors
  boost::asio::ip::tcp::endpoint ep(address, 0);
  probe.open(ep.protocol(), ec);
  if (!ec) probe.bind(ep, ec);
  if (ec) return corvus::Status::IOError("cannot pick a free port on " + options.host + ": " + ec.message());
  options.port = probe.local_endpoint().port();
  const std::string port = ":" + std::to_string(options.port);
  auto fix = [&](std::string& url) {
    if (url.size() >= 2 && url.compare(url.size() - 2, 2, ":0") == 0) url.replace(url.size() - 2, 2, port);
    if (url.size() >= 3 && url.compare(url.size() - 3, 3, ":0/") == 0) url.replace(url.size() - 3, 3, port + "/");
  };
  fix(options.server_url);
  fix(options.public_server_url);
  return corvus::Status::Ok();
}

// Where the TCP listener binds: --tcp-url's host and port (checked when the
// options were parsed), else the HTTP host and any free port.
corvus::server::tcp::TcpListenerOptions tcp_listener_options(const corvus::server::ServerOptions& options) {
  corvus::server::tcp::TcpListenerOptions t;
  t.host = options.host;
  t.port = 0;
  if (auto hp = corvus::server::parse_tcp_url(options.tcp_url); hp.ok()) {
    t.host = hp->host;
    t.port = hp->port;
  }
  return t;
}

// The host clients dial over HTTP: the public URL's, else the bound one.
std::string public_host(const corvus::server::ServerOptions& options) {
  auto hp = corvus::server::parse_listen_url(options.public_server_url.empty() ? options.server_url
                                                                              : options.public_server_url);
  return hp.ok() ? hp->host : options.host;
}

// The host clients dial: --tcp-url's, else the host of the public URL.
std::string tcp_advertised_host(const corvus::server::ServerOptions& options) {
  auto hp = options.tcp_url.empty()
                ? corvus::server::parse_listen_url(options.public_server_url.empty() ? options.server_url
                                                                                     : options.public_server_url)
                : corvus::server::parse_tcp_url(options.tcp_url);
  if (!hp.ok()) return options.host;
  return hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace corvus;
  using namespace corvus::server;

  auto parsed = parse_server_options(argc, argv, environment());
  if (!parsed.ok()) {
    std::fprintf(stderr, "corvusd: %s\n\n%s", parsed.status().message().c_str(), server_options_help().c_str());
    return 2;
  }
  ServerOptions options = std::move(parsed).value();
  if (options.help_requested) {
    std::fputs(server_options_help().c_str(), stdout);
    return 0;
  }
  if (auto level = log::parse_level(options.log_level)) log::set_level(*level);
  {
    corvus::scripting::ScriptLimits limits;
    limits.timeout = std::chrono::milliseconds(options.script_timeout_ms);
    limits.max_memory_bytes = options.script_max_memory_bytes;
    corvus::scripting::configure(limits);
  }
  // The I/O thread count is known from here on: the storage decides with it
  // whether a request may run its own write (StorageOptions).
  if (options.threads <= 0) options.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (corvus::Status s = check_security_options(options); !s.ok()) {
    log::error("cannot start").kv("error", s.message());
    std::fprintf(stderr, "corvusd: cannot start: %s\n", s.message().c_str());
    return 2;
  }
  // A bad certificate is reported before the data directory is touched.
  // The node's own certificate is what the authorization layer trusts as
  // ClusterAdmin (other nodes present it).
  http::ClientCertificate own_certificate;
  if (options.self_signed_certificate) {
    auto generated = security::ensure_node_certificate(options.data_dir, public_host(options));
    if (!generated.ok()) {
      log::error("cannot start").kv("error", generated.status().message());
      std::fprintf(stderr, "corvusd: cannot start: %s\n", generated.status().message().c_str());
      return 2;
    }
    options.certificate_path = generated->pem_path;
    log::info(generated->key_created ? "self-signed certificate over a NEW key (peers must pin the new hash)"
                                     : "self-signed certificate re-issued over the kept key")
        .kv("certificate", generated->pem_path)
        .kv("server_key_hash", generated->public_key_hash);
    std::printf("Server Key Hash: %s\n", generated->public_key_hash.c_str());
    std::fflush(stdout);
  }
  if (!options.certificate_path.empty()) {
    auto tls = http::make_server_tls_context(options.certificate_path, options.certificate_password);
    if (!tls.ok()) {
      log::error("cannot start").kv("error", tls.status().message());
      std::fprintf(stderr, "corvusd: cannot start: %s\n", tls.status().message().c_str());
      return 2;
    }
    own_certificate = http::describe_certificate(SSL_CTX_get0_certificate(tls.value()->native_handle()));
  }
  if (options.certificate_path.empty() && !is_loopback_host(options.host)) {
    log::warn("UNSECURED: listening on a non-loopback address without TLS or authentication "
              "(--unsecured-allow-public); anyone who can reach this port has full access")
        .kv("host", options.host);
  }

  // Block the stop signals in every thread; main waits for them with sigwait
  // so shutdown runs in normal code, not in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (corvus::Status s = resolve_port_zero(options); !s.ok()) {
    std::fprintf(stderr, "corvusd: cannot start: %s\n", s.message().c_str());
    return 1;
  }
  auto store = ServerStore::open(options);
  if (!store.ok()) {
    log::error("cannot start").kv("error", store.status().message());
    std::fprintf(stderr, "corvusd: cannot start: %s\n", store.status().message().c_str());
    return 1;
  }

  // Who may do what: a server with a certificate (serving TLS) authorizes
  // every request; without one everything is allowed (RavenDB's unsecured
  // mode). Its own certificate and the --admin-certificate-thumbprint ones
  // are ClusterAdmin.
  security::SecurityOptions security;
  security.secured = !options.certificate_path.empty();
  security.server_thumbprint = own_certificate.thumbprint;
  security.server_public_key_hash = own_certificate.public_key_hash;
  security.admin_thumbprints = options.admin_certificate_thumbprints;
  security.admin_key_hashes = options.admin_certificate_key_hashes;
  store.value()->set_security(std::move(security));

  http::Router router;
  handlers::register_all_routes(router, *store.value());
  router.set_authorizer([&store = *store.value()](const http::Request& req, http::RouteAccess access) {
    return security::authorize(*store.security(), store.cluster().state(), req, access);
  });

  // The TCP listener for data subscription workers (before the HTTP
  // server, so /info/tcp always has an answer): TLS with the server's
  // certificate when it has one (the clients pin the certificate /info/tcp
  // advertises), each connection authorized like an HTTP request reading the
  // database it names.
  subscriptions::SubscriptionTcpHandler subscription_handler(*store.value());
  // Pull replication sinks dial the same port (server/pull_replication/).
  pull_replication::PullReplicationHubHandler pull_replication_hub(*store.value());
  // Other clusters' external replications push to the same port.
  external_replication::ExternalReplicationTcpHandler external_replication_destination(*store.value());
  std::shared_ptr<boost::asio::ssl::context> tcp_tls;
  auto tcp_options = tcp_listener_options(options);
  if (!options.certificate_path.empty()) {
    auto tls = http::make_server_tls_context(options.certificate_path, options.certificate_password);
    if (!tls.ok()) {
      std::fprintf(stderr, "corvusd: cannot start: %s\n", tls.status().message().c_str());
      return 1;
    }
    tcp_tls = std::move(tls).value();
    tcp_options.tls = tcp_tls->native_handle();
    store.value()->set_tcp_certificate(security::der_base64(SSL_CTX_get0_certificate(tcp_options.tls)));
    tcp_options.authorize = [&store = *store.value()](const tcp::TcpConnectionHeader& header,
                                                      X509* certificate) -> std::optional<std::string> {
      std::optional<http::ClientCertificate> cert;
      if (certificate) cert = http::describe_certificate(certificate);
      if (header.operation == pull_replication::kPullReplicationOperation) {
        auto refusal = security::decide_pull_replication(*store.security(), store.cluster().state(), header.database,
                                                         header.authorization_for, cert ? &*cert : nullptr,
                                                         std::time(nullptr));
        if (!refusal) return std::nullopt;
        return refusal->message;
      }
      // An external replication writes into the database: ReadWrite (or
      // Admin, or an admin certificate); the other operations read it.
      const bool writes = header.operation == external_replication::kExternalReplicationOperation;
      auto refusal = security::decide(*store.security(), store.cluster().state(),
                                      writes ? http::RouteAccess::DatabaseReadWrite : http::RouteAccess::DatabaseRead,
                                      header.database, cert ? &*cert : nullptr, std::time(nullptr),
                                      "TCP " + header.operation + " of database " + header.database);
      if (!refusal) return std::nullopt;
      return refusal->message;
    };
  }
  auto listener = tcp::TcpListener::bind(tcp_options);
  if (!listener.ok()) {
    log::error("cannot start").kv("error", listener.status().message());
    std::fprintf(stderr, "corvusd: cannot start: %s\n", listener.status().message().c_str());
    return 1;
  }
  std::unique_ptr<tcp::TcpListener> tcp_listener = std::move(listener).value();
  tcp_listener->add_handler("Subscription", &subscription_handler);
  tcp_listener->add_handler(std::string(pull_replication::kPullReplicationOperation), &pull_replication_hub);
  tcp_listener->add_handler(std::string(external_replication::kExternalReplicationOperation),
                            &external_replication_destination);
  tcp_listener->start();
  store.value()->set_tcp_url("tcp://" + tcp_advertised_host(options) + ":" + std::to_string(tcp_listener->port()));

  http::HttpServerOptions http_options;
  http_options.host = options.host;
  http_options.port = options.port;
  http_options.max_body_bytes = options.max_body_bytes;
  http_options.threads = options.threads;
  http_options.read_timeout = std::chrono::seconds(options.read_timeout_seconds);
  http_options.certificate_path = options.certificate_path;
  http_options.certificate_password = options.certificate_password;
  auto server = http::HttpServer::start(http_options, router, store.value()->metrics());
  if (!server.ok()) {
    log::error("cannot start").kv("error", server.status().message());
    std::fprintf(stderr, "corvusd: cannot start: %s\n", server.status().message().c_str());
    return 1;
  }
  log::info("corvusd listening")
      .kv("url", std::string(options.certificate_path.empty() ? "http://" : "https://") + options.host + ":" +
                     std::to_string(server.value()->port()))
      .kv("data_dir", options.data_dir)
      .kv("node_tag", store.value()->node_tag())
      .kv("databases", static_cast<uint64_t>(store.value()->databases().names().size()))
      .kv("tcp_url", store.value()->tcp_url());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("shutting down").kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.value()->shutdown();
  tcp_listener->stop();
  store.value()->close();
  log::info("stopped");
  return 0;
}
