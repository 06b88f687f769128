#pragma once
// CorvusdProcess: a real corvusd child process on a 127.0.0.1 port, for
// multi-process tests. Starts it, waits (bounded) until it answers, and can
// SIGKILL, SIGSTOP/SIGCONT or SIGTERM it. The destructor kills whatever is
// still running. Not thread-safe; one owner.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace corvus::testing {

// A TCP port on 127.0.0.1 that was free a moment ago and that no other test
// process is handed while this one lives (0 if none was found).
uint16_t free_port();

class CorvusdProcess {
 public:
  // `binary` defaults to the CORVUSD_PATH the build passes to the tests.
  CorvusdProcess(std::string data_dir, uint16_t port, std::vector<std::string> extra_args = {});
  ~CorvusdProcess();
  CorvusdProcess(const CorvusdProcess&) = delete;
  CorvusdProcess& operator=(const CorvusdProcess&) = delete;

  // Spawns the process and waits until GET /healthz answers 200, at most
  // `timeout`. Returns false (process killed) if it did not come up.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Spawns without waiting; for tests that expect start-up to fail.
  void spawn();
  // Waits for the process to exit on its own, at most `timeout`; its exit code,
  // or -1 on timeout / death by signal.
  int wait_exit(std::chrono::milliseconds timeout);

  void kill9();       // SIGKILL and reap
  void stop();        // SIGSTOP
  void resume();      // SIGCONT
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));  // SIGTERM, exit code

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // stdout and stderr of the process so far (kept in a temp file).
  std::string log() const;

 private:
  std::string data_dir_;
  uint16_t port_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace corvus::testing
