#include "tests/support/tcp_proxy.h"

#include <atomic>
#include <array>
#include <set>
#include <thread>

#include <boost/asio.hpp>

namespace corvus::testing {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct TcpProxy::Impl : std::enable_shared_from_this<Impl> {
  struct Link : std::enable_shared_from_this<Link> {
    Impl* owner;
    tcp::socket client;
    tcp::socket server;
    std::array<char, 16384> up{};
    std::array<char, 16384> down{};
    bool closed = false;

    Link(Impl* o, tcp::socket c) : owner(o), client(std::move(c)), server(o->io) {}

    void start() {
      auto self = shared_from_this();
      server.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), owner->target),
                           [self](error_code ec) {
                             if (ec || self->closed) return self->close();
                             self->pump(self->client, self->server, self->up);
                             self->pump(self->server, self->client, self->down);
                           });
    }

    void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf) {
      auto self = shared_from_this();
      from.async_read_some(asio::buffer(buf), [self, &from, &to, &buf](error_code ec, std::size_t n) {
        if (ec || self->closed) return self->close();
        asio::async_write(to, asio::buffer(buf.data(), n), [self, &from, &to, &buf](error_code ec2, std::size_t) {
          if (ec2 || self->closed) return self->close();
          self->pump(from, to, buf);
        });
      });
    }

    void close() {
      if (closed) return;
      closed = true;
      error_code ignored;
      client.set_option(asio::socket_base::linger(true, 0), ignored);  // reset, like a broken link
      client.close(ignored);
      server.close(ignored);
      owner->links.erase(shared_from_this());
    }
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  uint16_t target = 0;
  std::atomic<bool> is_cut{false};
  std::atomic<uint64_t> accepted{0};
  std::set<std::shared_ptr<Link>> links;  // I/O thread only
  std::thread thread;

  void do_accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ++accepted;
        if (is_cut) {
          error_code ignored;
          s.set_option(asio::socket_base::linger(true, 0), ignored);
          s.close(ignored);
        } else {
          auto link = std::make_shared<Link>(this, std::move(s));
          links.insert(link);
          link->start();
        }
      }
      do_accept();
    });
  }
};

TcpProxy::TcpProxy(uint16_t listen_port, uint16_t target_port) : impl_(std::make_shared<Impl>()) {
  impl_->target = target_port;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), listen_port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->do_accept();
  Impl* raw = impl_.get();
  impl_->thread = std::thread([raw] { raw->io.run(); });
}

TcpProxy::~TcpProxy() {
  Impl* raw = impl_.get();
  asio::post(raw->io, [raw] {
    error_code ignored;
    raw->acceptor.close(ignored);
    for (auto& l : std::set<std::shared_ptr<Impl::Link>>(raw->links)) l->close();
    raw->io.stop();
  });
  raw->thread.join();
}

uint16_t TcpProxy::port() const { return impl_->acceptor.local_endpoint().port(); }

void TcpProxy::cut() {
  impl_->is_cut = true;
  Impl* raw = impl_.get();
  asio::post(raw->io, [raw] {
    for (auto& l : std::set<std::shared_ptr<Impl::Link>>(raw->links)) l->close();
  });
}

void TcpProxy::heal() { impl_->is_cut = false; }

bool TcpProxy::is_cut() const { return impl_->is_cut; }

uint64_t TcpProxy::accepted() const { return impl_->accepted; }

}  // namespace corvus::testing
