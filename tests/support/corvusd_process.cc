#include "tests/support/corvusd_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/http_client.h"

#ifndef CORVUSD_PATH
#error "CORVUSD_PATH must be defined by the build"
#endif

namespace corvus::testing {

namespace {

bool can_listen_on(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t free_port() {
  // Ports come from below the kernel's ephemeral range (32768+): a port handed
  // out there can be taken by any outgoing connection of a test running in
  // parallel before corvusd binds it. Test processes running at the same time
  // reserve a port by holding an flock on a file named after it for their
  // whole life (the kernel drops the lock when the process exits).
  static std::mutex mutex;
  static std::mt19937 random(std::random_device{}());
  std::lock_guard lock(mutex);
  const auto dir = std::filesystem::temp_directory_path() / "corvus-test-ports";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::uniform_int_distribution<int> range(10000, 19999);
  for (int attempt = 0; attempt < 2000; ++attempt) {
    auto port = static_cast<uint16_t>(range(random));
    std::string lock_path = (dir / std::to_string(port)).string();
    int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !can_listen_on(port)) {
      ::close(fd);
      continue;
    }
    return port;  // fd stays open on purpose: it is the reservation
  }
  return 0;
}

CorvusdProcess::CorvusdProcess(std::string data_dir, uint16_t port, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), port_(port), extra_args_(std::move(extra_args)) {
  // Outside the data directory, so a test can give an unusable one.
  static std::atomic<int> counter{0};
  log_path_ = (std::filesystem::temp_directory_path() /
               ("corvusd-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log"))
                  .string();
}

CorvusdProcess::~CorvusdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    kill9();
  }
  std::error_code ec;
  std::filesystem::remove(log_path_, ec);
}

void CorvusdProcess::spawn() {
  std::vector<std::string> args = {CORVUSD_PATH, "--server-url", url(), "--data-dir", data_dir_,
                                   "--log-level", "info"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

bool CorvusdProcess::start(std::chrono::milliseconds timeout) {
  spawn();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    HttpClient client("127.0.0.1", port_, std::chrono::milliseconds(500));
    auto r = client.request("GET", "/healthz");
    if (r.status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill9();
  return false;
}

int CorvusdProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

void CorvusdProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void CorvusdProcess::stop() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void CorvusdProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

int CorvusdProcess::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(timeout);
  if (pid_ > 0) kill9();
  return code;
}

std::string CorvusdProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace corvus::testing
