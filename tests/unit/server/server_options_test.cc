#include "server/options/server_options.h"

#include <doctest/doctest.h>

#include <vector>

using namespace corvus;
using namespace corvus::server;

namespace {
Result<ServerOptions> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "corvusd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_server_options(static_cast<int>(args.size()), argv.data(), env);
}
}  // namespace

TEST_CASE("ServerOptions: defaults") {
  auto o = parse({});
  REQUIRE(o.ok());
  CHECK(o->server_url == "http://127.0.0.1:8080");
  CHECK(o->host == "127.0.0.1");
  CHECK(o->port == 8080);
  CHECK(o->data_dir == "./corvus-data");
  CHECK(o->log_level == "info");
  CHECK(o->max_body_bytes == 64u * 1024 * 1024);
  CHECK(o->background_write_bytes_per_second == 128u << 20);
  CHECK(o->threads == 0);
  CHECK(o->read_timeout_seconds == 120);
  CHECK(o->node_tag_hint.empty());
  CHECK(o->public_server_url.empty());
  CHECK_FALSE(o->help_requested);
}

TEST_CASE("ServerOptions: --flag=value and --flag value") {
  auto o = parse({"--server-url=http://0.0.0.0:9090", "--data-dir", "/tmp/c", "--log-level=DEBUG", "--max-body-size",
                  "10KB", "--threads=4", "--public-server-url", "http://a.example:80", "--node-tag=B",
                  "--background-write-rate=0"});
  REQUIRE(o.ok());
  CHECK(o->host == "0.0.0.0");
  CHECK(o->port == 9090);
  CHECK(o->server_url == "http://0.0.0.0:9090");
  CHECK(o->data_dir == "/tmp/c");
  CHECK(o->log_level == "debug");
  CHECK(o->max_body_bytes == 10u * 1024);
  CHECK(o->threads == 4);
  CHECK(o->public_server_url == "http://a.example:80");
  CHECK(o->node_tag_hint == "B");
  CHECK(o->background_write_bytes_per_second == 0);
}

TEST_CASE("ServerOptions: environment, and flags win over it") {
  std::map<std::string, std::string> env = {{"CORVUS_DATA_DIR", "/env/dir"},
                                            {"CORVUS_SERVER_URL", "http://[::1]:7000/"},
                                            {"CORVUS_MAX_BODY_SIZE", "1048576"},
                                            {"CORVUS_LOG_LEVEL", "warn"},
                                            {"CORVUS_THREADS", "2"},
                                            {"UNRELATED", "x"}};
  auto o = parse({"--data-dir=/flag/dir"}, env);
  REQUIRE(o.ok());
  CHECK(o->data_dir == "/flag/dir");
  CHECK(o->host == "::1");
  CHECK(o->port == 7000);
  CHECK(o->max_body_bytes == 1048576u);
  CHECK(o->log_level == "warn");
  CHECK(o->threads == 2);
}

TEST_CASE("ServerOptions: byte sizes") {
  CHECK(parse_byte_size("1048576").value() == 1048576u);
  CHECK(parse_byte_size("64MiB").value() == 64u * 1024 * 1024);
  CHECK(parse_byte_size("64mb").value() == 64u * 1024 * 1024);
  CHECK(parse_byte_size("10KB").value() == 10240u);
  CHECK(parse_byte_size("1G").value() == 1024u * 1024 * 1024);
  CHECK_FALSE(parse_byte_size("").ok());
  CHECK_FALSE(parse_byte_size("MB").ok());
  CHECK_FALSE(parse_byte_size("10XB").ok());
  CHECK_FALSE(parse_byte_size("-1").ok());
  CHECK_FALSE(parse_byte_size("99999999999999999999999").ok());
}

TEST_CASE("ServerOptions: URLs") {
  CHECK(parse_http_url("http://localhost")->port == 80);
  CHECK(parse_http_url("http://localhost:0")->port == 0);
  auto https = parse_http_url("https://a:8443");
  REQUIRE(https.ok());
  CHECK(https->https);
  CHECK(https->port == 8443);
  CHECK(parse_http_url("https://a")->port == 443);
  auto listen = parse_listen_url("https://a");
  REQUIRE(listen.ok());
  CHECK(listen->https);
  CHECK(listen->port == 443);
  CHECK_FALSE(parse_listen_url("http://a")->https);
  CHECK_FALSE(parse_listen_url("ftp://a").ok());
  CHECK_FALSE(parse_http_url("ftp://a").ok());
  CHECK_FALSE(parse_http_url("http://a:99999").ok());
  CHECK_FALSE(parse_http_url("http://a:").ok());
  CHECK_FALSE(parse_http_url("http://:80").ok());
  CHECK_FALSE(parse_http_url("http://a/path").ok());
  CHECK_FALSE(parse_http_url("http://::1:80").ok());
}

TEST_CASE("ServerOptions: errors name the flag or variable") {
  auto check_error = [](const Result<ServerOptions>& r, const std::string& needle) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is_invalid_argument());
    CAPTURE(r.status().message());
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  check_error(parse({"--bogus=1"}), "unknown flag '--bogus'");
  check_error(parse({"positional"}), "unexpected argument 'positional'");
  check_error(parse({"--threads"}), "--threads needs a value");
  check_error(parse({"--threads=many"}), "flag --threads");
  check_error(parse({"--threads=-1"}), "flag --threads");
  check_error(parse({"--log-level=loud"}), "unknown log level 'loud'");
  check_error(parse({"--read-timeout=0"}), "flag --read-timeout");
  check_error(parse({"--read-timeout=2m"}), "whole seconds");
  check_error(parse({"--max-body-size=lots"}), "bad size 'lots'");
  check_error(parse({"--max-body-size=0"}), "greater than 0");
  check_error(parse({"--background-write-rate=100KB"}), "at least 1MiB");
  check_error(parse({"--node-tag=a"}), "upper-case");
  check_error(parse({}, {{"CORVUS_THREADS", "x"}}), "environment variable CORVUS_THREADS");
}

TEST_CASE("ServerOptions: TLS and public-bind checks") {
  auto check = [](std::vector<std::string> args) {
    auto o = parse(args);
    REQUIRE(o.ok());
    return check_security_options(*o);
  };
  CHECK(check({}).ok());  // the default: loopback, plain HTTP
  CHECK(check({"--server-url=https://127.0.0.1:8443", "--certificate=/x.pem"}).ok());
  CHECK(check({"--server-url=https://0.0.0.0:8443", "--certificate=/x.pfx"}).ok());
  CHECK(check({"--server-url=http://[::1]:8080"}).ok());
  CHECK(check({"--server-url=http://localhost:8080"}).ok());
  CHECK(check({"--server-url=http://0.0.0.0:8080", "--unsecured-allow-public"}).ok());
  CHECK(check({"--server-url=http://10.1.2.3:8080"}).message().find("--unsecured-allow-public") != std::string::npos);
  Status s = check({"--server-url=http://0.0.0.0:8080"});
  CHECK(s.is_invalid_argument());
  CHECK(s.message().find("refusing to listen on 0.0.0.0 without TLS") != std::string::npos);
  s = check({"--server-url=https://127.0.0.1:8443"});
  CHECK(s.message().find("no --certificate") != std::string::npos);
  s = check({"--server-url=http://127.0.0.1:8080", "--certificate=/x.pem"});
  CHECK(s.message().find("use https://") != std::string::npos);
  auto env = parse({}, {{"CORVUS_UNSECURED_ALLOW_PUBLIC", "true"}, {"CORVUS_CERTIFICATE_PASSWORD", "pw"}});
  REQUIRE(env.ok());
  CHECK(env->unsecured_allow_public);
  CHECK(env->certificate_password == "pw");
  CHECK(is_loopback_host("127.0.0.2"));
  CHECK_FALSE(is_loopback_host("127.example.com"));
  CHECK_FALSE(is_loopback_host("::"));
}

TEST_CASE("ServerOptions: help lists every flag, env var and default") {
  auto o = parse({"--help"});
  REQUIRE(o.ok());
  CHECK(o->help_requested);
  std::string help = server_options_help();
  for (const char* s : {"--server-url", "CORVUS_SERVER_URL", "http://127.0.0.1:8080", "--data-dir", "CORVUS_DATA_DIR",
                        "./corvus-data", "--log-level", "CORVUS_LOG_LEVEL", "--max-body-size", "CORVUS_MAX_BODY_SIZE",
                        "64MiB", "--threads", "CORVUS_THREADS", "--public-server-url", "CORVUS_PUBLIC_SERVER_URL",
                        "--node-tag", "CORVUS_NODE_TAG", "--background-write-rate", "CORVUS_BACKGROUND_WRITE_RATE",
                        "--certificate", "CORVUS_CERTIFICATE",
                        "--certificate-password", "CORVUS_CERTIFICATE_PASSWORD", "--unsecured-allow-public",
                        "CORVUS_UNSECURED_ALLOW_PUBLIC", "--help"}) {
    CAPTURE(s);
    CHECK(help.find(s) != std::string::npos);
  }
}

TEST_CASE("ServerOptions: --admin-certificate-thumbprint is repeatable, comma-separated, normalized, checked") {
  const std::string a = "0123456789abcdef0123456789abcdef01234567";
  const std::string b = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01";
  auto o = parse({"--admin-certificate-thumbprint", a, "--admin-certificate-thumbprint=" + b});
  REQUIRE(o.ok());
  CHECK(o->admin_certificate_thumbprints ==
        std::vector<std::string>{"0123456789ABCDEF0123456789ABCDEF01234567", "ABCDEF0123456789ABCDEF0123456789ABCDEF01"});
  o = parse({}, {{"CORVUS_ADMIN_CERTIFICATE_THUMBPRINT", a + "," + a}});
  REQUIRE(o.ok());
  CHECK(o->admin_certificate_thumbprints.size() == 2);
  // Flags win over the environment.
  o = parse({"--admin-certificate-thumbprint", b}, {{"CORVUS_ADMIN_CERTIFICATE_THUMBPRINT", a}});
  REQUIRE(o.ok());
  CHECK(o->admin_certificate_thumbprints == std::vector<std::string>{"ABCDEF0123456789ABCDEF0123456789ABCDEF01"});
  CHECK(parse({}).value().admin_certificate_thumbprints.empty());
  for (const std::string& bad : {std::string("xyz"), a.substr(1), a + "0", a + ",", std::string("")}) {
    CAPTURE(bad);
    auto r = parse({"--admin-certificate-thumbprint", bad});
    CHECK(r.status().is_invalid_argument());
    CHECK(r.status().message().find("admin-certificate-thumbprint") != std::string::npos);
  }
}

TEST_CASE("ServerOptions: --tcp-url takes tcp://host:port and nothing else") {
  CHECK(parse({}).value().tcp_url.empty());
  auto o = parse({"--tcp-url", "tcp://127.0.0.1:38888"});
  REQUIRE(o.ok());
  CHECK(o.value().tcp_url == "tcp://127.0.0.1:38888");
  CHECK(parse({}, {{"CORVUS_TCP_URL", "tcp://[::1]:0"}}).value().tcp_url == "tcp://[::1]:0");
  for (const char* bad : {"http://127.0.0.1:1", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:99999",
                          "tcp://127.0.0.1:8x"}) {
    auto r = parse({std::string("--tcp-url=") + bad});
    CHECK_MESSAGE(!r.ok(), bad);
  }
}
