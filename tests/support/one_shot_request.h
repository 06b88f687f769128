#pragma once
// send_request: one HTTP/1.1 request on a connection of its own, never retried,
// bounded by a deadline, for the fault tests' clients. It says whether the
// request left at all (a refused connection: certainly not applied) and whether
// a complete answer came back (otherwise the outcome is unknown). Plain
// sockets with short receive slices: Asio's blocking reads wait again after
// SO_RCVTIMEO fires, so they would hang on a SIGSTOPped server. Thread-safe
// (no shared state).

#include <chrono>
#include <cstdint>
#include <string>

namespace corvus::testing {

struct Answer {
  bool sent = false;  // false: no connection, the request never left
  int status = 0;     // 0: no complete answer (reset, timeout)
  std::string body;
  std::string head;   // status line and headers, for messages
  std::string error;  // why there is no answer, for messages
};

Answer send_request(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace corvus::testing
