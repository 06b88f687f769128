// Connection: reading requests, calling handlers, writing responses on one
// socket. See http_connection.h.

#include "server/http/http_connection.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <exception>
#include <mutex>

#include "server/http/error_response.h"
#include "server/logging/logger.h"

namespace corvus::server::http {

namespace {

constexpr std::string_view kServerVersion = "7.0.0";
// After an error response that closes the connection, unread request bytes are
// read and discarded for a bounded time/amount, so closing does not reset the
// connection (RST) before the client has read the error.
constexpr auto kDrainTimeout = std::chrono::seconds(1);
constexpr size_t kMaxDrainBytes = 64 * 1024 * 1024;
// One chunk of a streamed body, in and out: the memory a streaming request holds.
constexpr size_t kStreamChunkBytes = 256 * 1024;
// Room for an ordinary request in one read (4 KB per open connection).
constexpr size_t kReadBufferBytes = 4 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kChunkEnd = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";  // no trailers

bool expects_continue(const bhttp::fields& f) {
  auto it = f.find(bhttp::field::expect);
  return it != f.end() && beast::iequals(it->value(), "100-continue");
}

bool is_benign(const error_code& ec) {
  return ec == asio::error::operation_aborted || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == bhttp::error::end_of_stream ||
         ec == bhttp::error::partial_message || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

// The connection whose handler is running on this thread (synchronous Respond).
thread_local Connection* t_handler_connection = nullptr;

Connection::Connection(std::shared_ptr<HttpServer::Core> core, tcp::socket socket)
    : core_(std::move(core)), ex_(socket.get_executor()), transport_(std::in_place, std::move(socket)) {}

Connection::~Connection() {
  if (core_->metrics_live.load(std::memory_order_acquire)) core_->open_connections->dec();
  std::lock_guard lock(core_->mu);
  core_->conns.erase(this);
  core_->conns_cv.notify_all();
}

void Connection::start() {
  {
    std::lock_guard lock(core_->mu);
    core_->conns.insert(this);
  }
  core_->open_connections->inc();
  // Dispatch onto the strand so every member access happens there. A TLS
  // port first looks at the first bytes (bounded by the read timeout).
  if (!core_->tls) {
    asio::dispatch(*ex_, beast::bind_front_handler(&Connection::do_read, shared_from_this()));
    return;
  }
  asio::dispatch(*ex_, beast::bind_front_handler(&Connection::detect_tls, shared_from_this()));
}

// ---- reading ----------------------------------------------------------------

void Connection::do_read() {
  if (!transport_) return;
  if (core_->stopping.load(std::memory_order_acquire) && buffer_.size() == 0) {
    do_close(false);
    return;
  }
  state_ = State::Reading;
  // Beast reads max(512, spare capacity) bytes at a time: with this room a
  // request of a few KB arrives in one system call instead of several.
  buffer_.reserve(kReadBufferBytes);
  parser_.reset();
  stream_parser_.reset();
  stream_failure_.reset();
  header_parser_.emplace();
  // The route decides the body's limit once the header is read (on_header).
  header_parser_->body_limit(boost::none);
  header_parser_->header_limit(static_cast<std::uint32_t>(core_->opts.max_header_bytes));
  arm_read_timer();
  bhttp::async_read_header(*transport_, buffer_, *header_parser_,
                           beast::bind_front_handler(&Connection::on_header, shared_from_this()));
}

// The header is in: match the route, then read the body whole (ordinary
// routes, within the same read timeout) or hand it to the handler as a stream.
void Connection::on_header(error_code ec, std::size_t /*bytes*/) {
  if (ec) {
    cancel_read_timer();
    on_read_error(ec);
    return;
  }
  if (tls_required_) {
    cancel_read_timer();
    reply_tls_required();
    return;
  }
  auto& msg = header_parser_->get();
  req_.method = msg.method();
  req_.method_name.assign(msg.method_string().data(), msg.method_string().size());
  auto target = msg.target();
  req_.target.assign(target.data(), target.size());
  std::string_view tv = req_.target;
  raw_path_ = tv.substr(0, tv.find('?'));
  route_ = core_->router.match(req_.method, raw_path_, req_.params, req_.method_name);
  const bool streaming =
      route_ != nullptr && (route_->options.streaming_body ||
                            (route_->options.streaming_body_if && route_->options.streaming_body_if(msg)));
  const uint64_t limit = streaming ? core_->opts.max_streamed_body_bytes : core_->opts.max_body_bytes;
  if (auto declared = header_parser_->content_length(); declared && *declared > limit) {
    cancel_read_timer();
    reply_too_large(limit, streaming);
    return;
  }
  // A client waiting for "100 Continue" gets it when the body is wanted:
  // for a streamed body at the handler's first read (not at all if it
  // answers first), otherwise right away.
  const bool wants_continue = !header_parser_->is_done() && expects_continue(header_parser_->get());
  if (streaming) {
    cancel_read_timer();  // from now on each chunk has its own idle time
    expect_continue_ = wants_continue;
    stream_parser_.emplace(std::move(*header_parser_));
    header_parser_.reset();
    stream_parser_->body_limit(limit);
    // Beast reads max(512, spare capacity) bytes at a time: without room
    // here a streamed body would arrive 512 bytes per system call.
    buffer_.reserve(64 * 1024);
    handle_request();
    return;
  }
  parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  parser_->body_limit(limit);
  if (parser_->is_done()) {
    on_read({}, 0);
    return;
  }
  if (wants_continue) {
    asio::async_write(*transport_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](error_code wec, std::size_t) {
                        if (wec) return self->fail(wec, "write 100-continue");
                        bhttp::async_read(*self->transport_, self->buffer_, *self->parser_,
                                          beast::bind_front_handler(&Connection::on_read, self));
                      });
    return;
  }
  bhttp::async_read(*transport_, buffer_, *parser_, beast::bind_front_handler(&Connection::on_read, shared_from_this()));
}

// The read timer holds only a weak reference, so an idle connection is not
// kept alive by it; closing the socket ends the pending read (on_read).
void Connection::arm_read_timer() {
  if (!read_timer_) read_timer_.emplace(*ex_);
  read_timer_->expires_after(core_->opts.read_timeout);
  read_timer_->async_wait([weak = weak_from_this()](error_code tec) {
    if (tec) return;
    if (auto self = weak.lock(); self && self->state_ == State::Reading && self->transport_) {
      log::debug("http connection closed: no complete request within the read timeout");
      error_code ignored;
      self->transport_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->transport_->socket().close(ignored);
    }
  });
}

void Connection::cancel_read_timer() {
  if (read_timer_) read_timer_->cancel();
}

void Connection::on_read(error_code ec, std::size_t /*bytes*/) {
  cancel_read_timer();
  if (ec) {
    on_read_error(ec);
    return;
  }
  handle_request();
}

const bhttp::fields* Connection::current_fields() const {
  if (parser_) return &parser_->get();
  if (stream_parser_) return &stream_parser_->get();
  if (header_parser_) return &header_parser_->get();
  return nullptr;
}

void Connection::reply_too_large(uint64_t limit, bool streaming) {
  std::string msg = "Request body is too large: the limit is " + std::to_string(limit) + " bytes";
  if (const auto* f = current_fields()) {
    if (auto it = f->find(bhttp::field::content_length); it != f->end()) {
      msg += ", the request declares " + std::string(it->value().data(), it->value().size()) + " bytes";
    }
  }
  msg += streaming ? " (streamed body limit)" : " (server option --max-body-size)";
  reply_error_and_close(error_response(413, kBadRequestType, msg, current_target()));
}

void Connection::on_read_error(error_code ec) {
  if (ec == bhttp::error::end_of_stream) {
    do_close(false);  // client closed between requests
    return;
  }
  if (tls_required_ && !is_benign(ec) && ec != asio::error::operation_aborted) {
    reply_tls_required();  // garbage or plain HTTP on the TLS port: the same answer
    return;
  }
  if (ec == bhttp::error::body_limit) {
    reply_too_large(core_->opts.max_body_bytes, false);
    return;
  }
  if (ec == bhttp::error::header_limit) {
    std::string msg = "Request line and headers exceed " + std::to_string(core_->opts.max_header_bytes) + " bytes";
    reply_error_and_close(error_response(431, kBadRequestType, msg, current_target()));
    return;
  }
  if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() && !is_benign(ec)) {
    reply_error_and_close(
        error_response(400, kBadRequestType, "Malformed HTTP request: " + ec.message(), current_target()));
    return;
  }
  fail(ec, "read");
}

// Error paths only. Beast may fail before the header is complete (a too large
// Content-Length is rejected when the header ends), but the message already holds
// what was parsed so far: method, target, fields.
std::string Connection::current_target() const {
  if (parser_) return std::string(parser_->get().target());
  if (stream_parser_) return std::string(stream_parser_->get().target());
  if (header_parser_) return std::string(header_parser_->get().target());
  return "";
}

void Connection::assign_request_id() {
  uint64_t n = core_->next_request_id.fetch_add(1, std::memory_order_relaxed);
  char buf[32];
  char* p = buf;
  p = std::to_chars(p, buf + sizeof(buf), core_->id_salt, 16).ptr;
  *p++ = '-';
  p = std::to_chars(p, buf + sizeof(buf), n, 16).ptr;
  req_.request_id.assign(buf, static_cast<size_t>(p - buf));
}

void Connection::handle_request() {
  state_ = State::Handling;
  // Method, target and route were taken in on_header.
  std::string_view tv = req_.target;
  size_t q = tv.find('?');
  req_.path.clear();
  percent_decode(raw_path_, req_.path, false);
  req_.query.assign(q == std::string_view::npos ? std::string_view() : tv.substr(q + 1));
  if (route_ == nullptr) {
    method_label_ = req_.method == bhttp::verb::unknown ? std::string("unknown") : to_label(req_.method);
  }
  if (stream_parser_) {
    auto& msg = stream_parser_->get();
    req_.keep_alive = msg.keep_alive();
    http10_ = msg.version() < 11;
    req_.body.clear();
    req_.body_reader = &stream_reader_;
    req_.headers = std::move(static_cast<bhttp::fields&>(msg));
  } else {
    auto& msg = parser_->get();
    req_.keep_alive = msg.keep_alive();
    http10_ = msg.version() < 11;
    req_.body = std::move(msg.body());
    req_.body_reader = nullptr;
    req_.headers = std::move(static_cast<bhttp::fields&>(msg));
  }
  assign_request_id();
  started_ = std::chrono::steady_clock::now();

  // Arm the one-shot Respond for this request.
  ++generation_;
  respond_state_.store((generation_ << 3) | static_cast<uint64_t>(Phase::Pending), std::memory_order_release);
  self_pending_ = shared_from_this();

  struct HandlerScope {  // marks "inside this connection's handler" for respond()
    explicit HandlerScope(Connection* c) : saved(t_handler_connection) { t_handler_connection = c; }
    ~HandlerScope() { t_handler_connection = saved; }
    Connection* saved;
  } scope(this);
  if (route_ == nullptr) {
    respond(Router::route_not_found(req_.method, req_.target, req_.method_name));
    return;
  }
  // Capturing only `this` keeps the std::function small enough to be stored
  // inline (no allocation); self_pending_ keeps the connection alive.
  Respond responder = [this](Response r) { respond(std::move(r)); };
  if (const auto& hook = core_->router.header_hook()) {
    if (auto extra = hook(req_); !extra.empty()) {
      responder = [this, extra = std::move(extra)](Response r) {
        for (const auto& h : extra) r.headers.push_back(h);
        respond(std::move(r));
      };
    }
  }
  try {
    route_->handler(req_, std::move(responder));
  } catch (const std::exception& e) {
    log::error("http handler threw").kv("req", req_.request_id).kv("route", route_->name).kv("what", e.what());
    respond(error_response(500, kInternalErrorType, std::string("Unhandled exception: ") + e.what(), req_.target));
  } catch (...) {
    log::error("http handler threw").kv("req", req_.request_id).kv("route", route_->name);
    respond(error_response(500, kInternalErrorType, "Unhandled exception", req_.target));
  }
}

// ---- streamed request bodies ------------------------------------------------

// Strand. One chunk into chunk_buf_, bounded by the idle timeout.
void Connection::stream_read(BodyReader::OnChunk on_chunk) {
  if (stream_failure_ || !transport_) {
    on_chunk(false, {}, false);
    return;
  }
  if (stream_parser_->is_done()) {
    on_chunk(true, {}, true);
    return;
  }
  if (expect_continue_) {
    expect_continue_ = false;
    pending_chunk_ = std::move(on_chunk);
    arm_idle_timer("100-continue");
    asio::async_write(*transport_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](error_code wec, std::size_t) {
                        self->cancel_idle_timer();
                        auto next = std::move(self->pending_chunk_);
                        self->pending_chunk_ = nullptr;
                        if (wec) {
                          self->stream_failure_ = error_response(400, kBadRequestType, "client went away",
                                                                 self->req_.target);
                          return next(false, {}, false);
                        }
                        self->stream_read(std::move(next));
                      });
    return;
  }
  if (chunk_buf_.size() < kStreamChunkBytes) chunk_buf_.resize(kStreamChunkBytes);
  auto& body = stream_parser_->get().body();
  body.data = chunk_buf_.data();
  body.size = chunk_buf_.size();
  body.more = true;
  pending_chunk_ = std::move(on_chunk);
  arm_idle_timer("request body");
  bhttp::async_read_some(*transport_, buffer_, *stream_parser_,
                         beast::bind_front_handler(&Connection::on_stream_read, shared_from_this()));
}

void Connection::on_stream_read(error_code ec, std::size_t /*bytes*/) {
  cancel_idle_timer();
  auto on_chunk = std::move(pending_chunk_);
  pending_chunk_ = nullptr;
  if (ec == bhttp::error::need_buffer) ec = {};  // the chunk buffer is full: a normal end of this read
  if (ec) {
    // The handler answers; on_respond substitutes this and closes.
    if (ec == bhttp::error::body_limit) {
      stream_failure_ = error_response(413, kBadRequestType,
                                       "Request body is too large: the limit is " +
                                           std::to_string(core_->opts.max_streamed_body_bytes) + " bytes",
                                       req_.target);
    } else {
      stream_failure_ = error_response(400, kBadRequestType,
                                       "Request body was not received completely: " + ec.message(), req_.target);
    }
    log::debug("http streamed body failed").kv("req", req_.request_id).kv("error", ec.message());
    on_chunk(false, {}, false);
    return;
  }
  const size_t got = chunk_buf_.size() - stream_parser_->get().body().size;
  const bool done = stream_parser_->is_done();
  if (got == 0 && !done) {
    stream_read(std::move(on_chunk));  // only framing (a chunk header) arrived
    return;
  }
  on_chunk(true, std::string_view(chunk_buf_.data(), got), done);
}

// Per-chunk idle limit for streamed bodies, both directions. Holds only a
// weak reference; closing the socket ends the pending operation.
void Connection::arm_idle_timer(const char* what) {
  if (!idle_timer_) idle_timer_.emplace(*ex_);
  idle_timer_->expires_after(core_->opts.body_idle_timeout);
  idle_timer_->async_wait([weak = weak_from_this(), what](error_code tec) {
    if (tec) return;
    if (auto self = weak.lock(); self && self->transport_) {
      log::debug("http connection closed: streamed body idle too long").kv("what", what);
      error_code ignored;
      self->transport_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->transport_->socket().close(ignored);
    }
  });
}

void Connection::cancel_idle_timer() {
  if (idle_timer_) idle_timer_->cancel();
}

// ---- responding -------------------------------------------------------------

// Any thread. Exactly one call per request takes effect.
void Connection::respond(Response r) {
  if (t_handler_connection == this) {
    // Synchronous answer from inside the handler, on our strand: the I/O thread
    // cannot be joined under us, so no hand-off bookkeeping is needed.
    uint64_t s = respond_state_.load(std::memory_order_acquire);
    if (phase_of(s) != Phase::Pending ||
        !respond_state_.compare_exchange_strong(s, with_phase(s, Phase::Responding), std::memory_order_acq_rel)) {
      return;  // a second call (handler responded, then threw)
    }
    auto self = std::move(self_pending_);  // the write keeps its own reference
    on_respond(std::move(r), s >> 3);
    return;
  }
  // From another thread. `core` keeps the Core alive across the hand-off;
  // `responders` tells shutdown() not to destroy the io_context while this thread
  // may still be using our strand. After dispatch() this connection may already
  // be gone: touch no member afterwards.
  std::shared_ptr<HttpServer::Core> core = core_;
  core->responders.fetch_add(1, std::memory_order_seq_cst);
  uint64_t s = respond_state_.load(std::memory_order_seq_cst);
  while (true) {
    Phase p = phase_of(s);
    if (p == Phase::Abandoned) {
      // Shutdown gave up on us: drop the response and our self-reference (this
      // may destroy the connection, which by now holds no I/O objects).
      auto self = std::move(self_pending_);
      core->responders.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    if (p != Phase::Pending) {  // a second call
      core->responders.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    if (respond_state_.compare_exchange_weak(s, with_phase(s, Phase::Responding), std::memory_order_seq_cst)) {
      break;
    }
  }
  auto self = std::move(self_pending_);
  uint64_t gen = s >> 3;
  asio::dispatch(*ex_, [self = std::move(self), r = std::move(r), gen]() mutable {
    self->on_respond(std::move(r), gen);
  });
  core->responders.fetch_sub(1, std::memory_order_seq_cst);
}

void Connection::on_respond(Response r, uint64_t gen) {
  respond_state_.store((gen << 3) | static_cast<uint64_t>(Phase::Responded), std::memory_order_release);
  if (!transport_) return;
  resp_ = std::move(r);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (route_ != nullptr) {
    core_->record(route_, {}, {}, resp_.status, seconds);
  } else {
    core_->record(nullptr, method_label_, "unmatched", resp_.status, seconds);
  }
  if (log::enabled(log::Level::Debug)) {
    log::debug("http request")
        .kv("req", req_.request_id)
        .kv("method", to_label(req_.method))
        .kv("target", req_.target)
        .kv("status", resp_.status)
        .kv("ms", seconds * 1000.0);
  }
  if (resp_.websocket && start_websocket()) return;
  bool close = !req_.keep_alive || core_->stopping.load(std::memory_order_acquire);
  bool drain = false;
  if (stream_parser_) {
    if (stream_failure_) {
      resp_ = std::move(*stream_failure_);
      stream_failure_.reset();
      close = true;
    } else if (!stream_parser_->is_done()) {
      // Answered before the body ended (an error): the rest is not read.
      close = true;
      drain = true;
    }
  }
  write_response(close, drain, req_.method == bhttp::verb::head);
}

// Error before any handler ran (strand): write and close.
void Connection::reply_error_and_close(Response r) {
  state_ = State::Handling;
  assign_request_id();
  resp_ = std::move(r);
  // Label only known verbs, so garbage cannot grow the metrics' label sets.
  bhttp::verb verb = parser_          ? parser_->get().method()
                     : stream_parser_ ? stream_parser_->get().method()
                     : header_parser_ ? header_parser_->get().method()
                                      : bhttp::verb::unknown;
  std::string method_label = verb == bhttp::verb::unknown ? std::string("unknown") : to_label(verb);
  http10_ = parser_          ? parser_->get().version() == 10
            : stream_parser_ ? stream_parser_->get().version() == 10
            : header_parser_ && header_parser_->get().version() == 10;
  core_->record(nullptr, method_label, "invalid_request", resp_.status, 0.0);
  log::debug("http request rejected")
      .kv("req", req_.request_id)
      .kv("status", resp_.status)
      .kv("reason", resp_.body);
  write_response(/*close=*/true, /*drain=*/true, /*head=*/false);
}

void Connection::append_header(std::string_view name, std::string_view value) {
  head_ += name;
  head_ += ": ";
  head_ += value;
  head_ += "\r\n";
}

bool Connection::header_safe(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

void Connection::write_response(bool close, bool drain, bool head) {
  state_ = State::Writing;
  const bool unsized = resp_.source && !resp_.source_length_known;
  // An HTTP/1.0 client has no chunked encoding: the body ends where the connection does.
  if (unsized && http10_) close = true;
  close_after_write_ = close;
  drain_after_write_ = drain;
  const unsigned status = resp_.status;
  const bool bodyless_status = (status >= 100 && status < 200) || status == 204 || status == 304;

  head_.clear();
  head_ += "HTTP/1.1 ";
  char num[24];
  auto end = std::to_chars(num, num + sizeof(num), status).ptr;
  head_.append(num, end);
  head_ += ' ';
  std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  head_ += reason.empty() || reason == "<unknown-status>" ? std::string_view("Unknown") : reason;
  head_ += "\r\n";
  append_header("Server", "corvus");
  append_header("Raven-Server-Version", kServerVersion);
  append_header("Request-Id", req_.request_id);
  if (!bodyless_status) {
    if (!resp_.content_type.empty() && header_safe(resp_.content_type)) {
      append_header("Content-Type", resp_.content_type);
    }
    if (unsized) {
      if (!http10_) append_header("Transfer-Encoding", "chunked");
    } else {
      const uint64_t length = resp_.source ? resp_.source_length : resp_.body.size();
      end = std::to_chars(num, num + sizeof(num), length).ptr;
      append_header("Content-Length", std::string_view(num, static_cast<size_t>(end - num)));
    }
  }
  if (close) {
    append_header("Connection", "close");
  } else if (http10_) {
    append_header("Connection", "keep-alive");
  }
  for (const auto& [name, value] : resp_.headers) {
    if (name.empty() || !header_safe(name) || !header_safe(value)) {
      log::warn("http response header dropped (CR/LF or empty name)").kv("req", req_.request_id).kv("name", name);
      continue;
    }
    append_header(name, value);
  }
  head_ += "\r\n";

  out_buffers_.clear();
  out_buffers_.push_back(asio::buffer(head_));
  framing_ = Framing::Sized;
  source_remaining_ = 0;
  source_more_ = false;
  if (!head && !bodyless_status) {
    if (resp_.source) {
      // The first chunk goes out with the head: a client sees headers and
      // bytes together (and a small attachment in one write).
      if (unsized) {
        framing_ = http10_ ? Framing::UntilClose : Framing::Chunked;
        source_more_ = true;
      } else {
        source_remaining_ = resp_.source_length;
      }
      const int64_t n = pull_chunk();
      if (n < 0) return;
      frame_chunk(n);
      arm_idle_timer("response body");
    } else if (!resp_.body.empty()) {
      out_buffers_.push_back(asio::buffer(resp_.body));
    }
  }
  asio::async_write(*transport_, out_buffers_, beast::bind_front_handler(&Connection::on_write, shared_from_this()));
}

void Connection::on_write(error_code ec, std::size_t /*bytes*/) {
  cancel_idle_timer();
  if (ec) {
    fail(ec, "write");
    return;
  }
  if (body_pending()) {
    write_next_chunk();
    return;
  }
  resp_.body.clear();
  resp_.source.reset();
  req_.body_reader = nullptr;
  // A streamed body's buffers are not kept by an idle keep-alive connection.
  if (!chunk_buf_.empty()) {
    std::vector<char>().swap(chunk_buf_);
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
  }
  resp_.headers.clear();
  if (close_after_write_) {
    do_close(drain_after_write_);
    return;
  }
  req_.headers.clear();
  req_.body.clear();
  do_read();
}

// A streamed response body: the next chunk, pulled from the source only once
// the previous one was taken by the client.
bool Connection::body_pending() const {
  return framing_ == Framing::Sized ? source_remaining_ > 0 : source_more_;
}

// The next chunk of the source into chunk_buf_ (0 when nothing is left);
// -1 after a failed read, the connection then closed: the status line is (or
// is about to be) sent, so cutting the response short is all that is left (a
// chunked body then lacks its last chunk: the client sees it broken).
int64_t Connection::pull_chunk() {
  if (!body_pending()) return 0;
  if (chunk_buf_.size() < kStreamChunkBytes) chunk_buf_.resize(kStreamChunkBytes);
  const size_t want = framing_ == Framing::Sized
                          ? static_cast<size_t>(std::min<uint64_t>(source_remaining_, chunk_buf_.size()))
                          : chunk_buf_.size();
  const int64_t n = resp_.source->read(chunk_buf_.data(), want);
  // A sized source that ends early is as broken as one that fails.
  if (n < 0 || static_cast<uint64_t>(n) > want || (n == 0 && framing_ == Framing::Sized)) {
    log::warn("http streamed response body failed").kv("req", req_.request_id).kv("remaining", source_remaining_);
    fail(asio::error::broken_pipe, "read response source");
    return -1;
  }
  if (framing_ == Framing::Sized) {
    source_remaining_ -= static_cast<uint64_t>(n);
  } else if (n == 0) {
    source_more_ = false;
  }
  return n;
}

// Appends the `n` bytes just pulled into chunk_buf_ to out_buffers_, framed
// as the response's framing says (n == 0: the end of an unsized body).
void Connection::frame_chunk(int64_t n) {
  const asio::const_buffer data(chunk_buf_.data(), static_cast<size_t>(n));
  switch (framing_) {
    case Framing::Sized:
    case Framing::UntilClose:
      if (n > 0) out_buffers_.push_back(data);
      break;
    case Framing::Chunked:
      if (n > 0) {
        char hex[24];
        auto end = std::to_chars(hex, hex + sizeof(hex), static_cast<uint64_t>(n), 16).ptr;
        chunk_head_.assign(hex, end);
        chunk_head_ += "\r\n";
        out_buffers_.push_back(asio::buffer(chunk_head_));
        out_buffers_.push_back(data);
        out_buffers_.push_back(asio::buffer(kChunkEnd.data(), kChunkEnd.size()));
      } else {
        out_buffers_.push_back(asio::buffer(kLastChunk.data(), kLastChunk.size()));
      }
      break;
  }
}

void Connection::write_next_chunk() {
  const int64_t n = pull_chunk();
  if (n < 0) return;
  out_buffers_.clear();
  frame_chunk(n);
  if (out_buffers_.empty()) {  // a close-delimited body ended: nothing more to send
    on_write({}, 0);
    return;
  }
  arm_idle_timer("response body");
  asio::async_write(*transport_, out_buffers_, beast::bind_front_handler(&Connection::on_write, shared_from_this()));
}

// ---- closing ----------------------------------------------------------------

void Connection::do_close(bool drain) {
  state_ = State::Closing;
  if (!transport_) return;
  error_code ec;
  transport_->socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!drain || ec) {
    transport_->socket().close(ec);
    return;
  }
  drained_ = 0;
  drain_timer_.emplace(*ex_);
  drain_timer_->expires_after(kDrainTimeout);
  drain_timer_->async_wait([self = shared_from_this()](error_code tec) {
    if (!tec && self->transport_) {
      error_code ignored;
      self->transport_->socket().close(ignored);
    }
  });
  do_drain();
}

void Connection::do_drain() {
  buffer_.consume(buffer_.size());
  transport_->async_read_some(buffer_.prepare(16 * 1024),
                           beast::bind_front_handler(&Connection::on_drain, shared_from_this()));
}

void Connection::on_drain(error_code ec, std::size_t n) {
  drained_ += n;
  if (ec || drained_ > kMaxDrainBytes || !transport_ || !transport_->socket().is_open()) {
    if (drain_timer_) drain_timer_->cancel();
    if (transport_) {
      error_code ignored;
      transport_->socket().close(ignored);
    }
    return;
  }
  do_drain();
}

void Connection::fail(error_code ec, const char* what) {
  state_ = State::Closing;
  if (is_benign(ec)) {
    log::trace("http connection closed").kv("op", what).kv("error", ec.message());
  } else {
    log::debug("http connection error").kv("op", what).kv("error", ec.message());
  }
  if (transport_) {
    error_code ignored;
    transport_->socket().close(ignored);
  }
}
}  // namespace corvus::server::http
