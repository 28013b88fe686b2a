#include "ditto/http/server.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <system_error>
#include <thread>

#include "ditto/log/log.hpp"

namespace ditto::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// A connection as its worker sees it; `idle` means waiting for the next request, so a drain
// may close it without losing anything.
struct connection_slot {
    beast::tcp_stream* stream;
    bool idle;
};

struct worker {
    // Destroyed after io_context: coroutine frames destroyed with it still erase themselves.
    std::list<connection_slot> connections;
    net::io_context ioc{1};
    std::optional<tcp::acceptor> acceptor;
    std::thread thread;
    unsigned index = 0;
};

}  // namespace

struct server::impl {
    server_options opt;
    std::shared_ptr<handler> h;
    std::vector<std::unique_ptr<worker>> workers;
    std::atomic<bool> draining{false};
    std::atomic<bool> stopped{false};
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> connections{0};
    std::uint16_t port = 0;
};

namespace {

struct counter_guard {
    std::atomic<std::size_t>& n;
    explicit counter_guard(std::atomic<std::size_t>& c) : n(c) { n.fetch_add(1); }
    ~counter_guard() { n.fetch_sub(1); }
    counter_guard(const counter_guard&) = delete;
    counter_guard& operator=(const counter_guard&) = delete;
};

tcp::endpoint resolve_listen(const std::string& host, std::uint16_t port) {
    error_code ec;
    auto addr = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (!ec)
        return {addr, port};
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
        throw std::system_error(ec ? ec : net::error::host_not_found,
                                "cannot resolve listen host " + host);
    }
    return results.begin()->endpoint();
}

void open_acceptor(tcp::acceptor& acc, const tcp::endpoint& ep) {
    acc.open(ep.protocol());
    acc.set_option(net::socket_base::reuse_address(true));
    // Each worker has its own acceptor on the same port; the kernel spreads connections.
    acc.set_option(reuse_port(true));
    acc.bind(ep);
    acc.listen(net::socket_base::max_listen_connections);
}

// Discards what the client still sends for a moment after a final error response, so that
// closing does not reset the connection before the client has read the response.
net::awaitable<void> lingering_close(beast::tcp_stream& stream) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16 * 1024> sink{};
    std::size_t total = 0;
    stream.expires_after(std::chrono::seconds(1));
    while (total < 4 * 1024 * 1024) {
        auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), nothrow);
        if (rec)
            break;
        total += n;
    }
    stream.socket().close(ec);
}

net::awaitable<bool> write_reject(server::impl& self, beast::tcp_stream& stream,
                                  reject_reason reason, status st, std::string_view target,
                                  unsigned version) {
    bhttp::response<bhttp::string_body> res{st, version == 10 ? 10u : 11u};
    res.set(field::content_type, "application/json");
    res.body() = self.h->reject_body(reason, target);
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(self.opt.client_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, res, nothrow);
    co_return !ec;
}

// Sends the head, then every piece of the stream as one chunk.
net::awaitable<bool> write_streamed(server::impl& self, beast::tcp_stream& stream, response& res) {
    bhttp::response<bhttp::empty_body> head{res.msg.base()};
    head.erase(field::content_length);
    head.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr{head};
    stream.expires_after(self.opt.client_timeout);
    if (auto [ec, n] = co_await bhttp::async_write_header(stream, sr, nothrow); ec) {
        co_return false;
    }
    for (;;) {
        error_code sec;
        auto piece = co_await res.stream->next(sec);
        if (sec) {
            // Abort visibly: a reset, not a clean end, so the client cannot take a truncated
            // stream for a complete one.
            error_code ignored;
            stream.socket().set_option(net::socket_base::linger(true, 0), ignored);
            stream.socket().close(ignored);
            co_return false;
        }
        if (!piece)
            break;
        if (piece->empty())
            continue;  // an empty chunk would end the body
        stream.expires_after(self.opt.client_timeout);
        auto [ec, n] =
            co_await net::async_write(stream, bhttp::make_chunk(net::buffer(*piece)), nothrow);
        if (ec)
            co_return false;
    }
    stream.expires_after(self.opt.client_timeout);
    auto [ec, n] = co_await net::async_write(stream, bhttp::make_chunk_last(), nothrow);
    co_return !ec;
}

net::awaitable<bool> write_response(server::impl& self, beast::tcp_stream& stream, response& res,
                                    bool head_only) {
    if (head_only) {
        bhttp::response<bhttp::empty_body> head{res.msg.base()};
        bhttp::response_serializer<bhttp::empty_body> sr{head};
        stream.expires_after(self.opt.client_timeout);
        auto [ec, n] = co_await bhttp::async_write_header(stream, sr, nothrow);
        co_return !ec;
    }
    if (res.stream)
        co_return co_await write_streamed(self, stream, res);
    stream.expires_after(self.opt.client_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, res.msg, nothrow);
    co_return !ec;
}

// Serves requests on one connection until it closes. Returns true when the caller should
// do a lingering close (an error response was sent while the client may still be sending).
net::awaitable<bool> serve(server::impl& self, worker& w, beast::tcp_stream& stream,
                           connection_slot& slot, const std::string& remote) {
    beast::flat_buffer buf;
    for (;;) {
        slot.idle = true;
        if (self.draining.load())
            co_return false;
        if (buf.size() == 0) {
            // Wait for the first byte of the next request under the keep-alive timeout; the
            // head then has its own deadline, so a slow-loris client is dropped either way.
            stream.expires_after(self.opt.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buf.prepare(8192), nothrow);
            if (ec)
                co_return false;
            buf.commit(n);
        }
        slot.idle = false;

        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(self.opt.max_header_bytes));
        parser.body_limit(self.opt.max_body_bytes);
        stream.expires_after(self.opt.header_timeout);
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buf, parser, nothrow);
        if (hec == bhttp::error::header_limit) {
            co_await write_reject(self, stream, reject_reason::header_too_large,
                                  status::request_header_fields_too_large, "", 11);
            co_return true;
        }
        const unsigned version = parser.is_header_done() ? parser.get().version() : 11;
        const std::string target =
            parser.is_header_done() ? std::string(parser.get().target()) : std::string();
        if (hec == bhttp::error::body_limit) {
            co_await write_reject(self, stream, reject_reason::body_too_large,
                                  status::payload_too_large, target, version);
            co_return true;
        }
        if (hec) {
            // Timeouts and closed connections end quietly; malformed requests get a 400.
            if (hec == beast::error::timeout || hec == bhttp::error::end_of_stream ||
                hec == net::error::eof || hec == net::error::connection_reset ||
                hec == net::error::operation_aborted) {
                co_return false;
            }
            co_await write_reject(self, stream, reject_reason::bad_request, status::bad_request,
                                  target, version);
            co_return true;
        }

        if (!parser.is_done()) {
            const auto& head = parser.get();
            if (auto it = head.find(field::expect);
                it != head.end() && beast::iequals(it->value(), "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{status::continue_, 11};
                stream.expires_after(self.opt.client_timeout);
                auto [cec, cn] = co_await bhttp::async_write(stream, cont, nothrow);
                if (cec)
                    co_return false;
            }
            stream.expires_after(self.opt.client_timeout);
            auto [bec, bn] = co_await bhttp::async_read(stream, buf, parser, nothrow);
            if (bec == bhttp::error::body_limit) {
                co_await write_reject(self, stream, reject_reason::body_too_large,
                                      status::payload_too_large, target, version);
                co_return true;
            }
            if (bec)
                co_return false;
        }

        request req = parser.release();
        counter_guard busy(self.in_flight);
        request_info info{remote, w.index, self.draining.load()};
        response res;
        bool failed = false;
        try {
            res = co_await self.h->handle(req, info);
        } catch (const std::exception& e) {
            log::error("http.handler_error", e.what(), {{"target", target}});
            failed = true;
        }
        if (failed) {
            co_await write_reject(self, stream, reject_reason::internal_error,
                                  status::internal_server_error, target, version);
            co_return false;
        }
        const bool keep = req.keep_alive() && res.msg.keep_alive() && !self.draining.load();
        res.msg.keep_alive(keep);
        const bool ok =
            co_await write_response(self, stream, res, req.method() == bhttp::verb::head);
        if (!ok || !keep)
            co_return false;
    }
}

net::awaitable<void> session(server::impl* self, worker* w, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    counter_guard open(self->connections);
    auto slot = w->connections.insert(w->connections.end(), connection_slot{&stream, true});
    struct unregister {
        worker* w;
        std::list<connection_slot>::iterator it;
        ~unregister() { w->connections.erase(it); }
    } unreg{w, slot};

    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    const std::string remote = ec ? std::string() : ep.address().to_string();
    bool linger = false;
    try {
        linger = co_await serve(*self, *w, stream, *slot, remote);
    } catch (const std::exception& e) {
        log::error("http.session_error", e.what());
    }
    if (linger && stream.socket().is_open()) {
        co_await lingering_close(stream);
        co_return;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
}

net::awaitable<void> accept_loop(server::impl* self, worker* w) {
    for (;;) {
        auto [ec, socket] = co_await w->acceptor->async_accept(nothrow);
        if (ec) {
            if (ec == net::error::operation_aborted || !w->acceptor->is_open())
                co_return;
            // Out of descriptors or similar: back off instead of spinning on the error.
            log::warn("http.accept_error", ec.message());
            net::steady_timer t(w->ioc, std::chrono::milliseconds(50));
            co_await t.async_wait(nothrow);
            continue;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        net::co_spawn(w->ioc, session(self, w, std::move(socket)), net::detached);
    }
}

}  // namespace

server::server(server_options options, std::shared_ptr<handler> h)
    : impl_(std::make_unique<impl>()) {
    impl_->opt = std::move(options);
    impl_->h = std::move(h);
    if (impl_->opt.workers == 0)
        impl_->opt.workers = 1;
}

server::~server() {
    stop();
}

void server::start() {
    auto ep = resolve_listen(impl_->opt.host, impl_->opt.port);
    for (unsigned i = 0; i < impl_->opt.workers; ++i) {
        auto w = std::make_unique<worker>();
        w->index = i;
        w->acceptor.emplace(w->ioc);
        open_acceptor(*w->acceptor, ep);
        if (i == 0) {
            // With port 0 the first bind picks the port; the other workers share it.
            ep.port(w->acceptor->local_endpoint().port());
            impl_->port = ep.port();
        }
        impl_->workers.push_back(std::move(w));
    }
    for (auto& w : impl_->workers) {
        net::co_spawn(w->ioc, accept_loop(impl_.get(), w.get()), net::detached);
        worker* raw = w.get();
        w->thread = std::thread([raw] {
            try {
                raw->ioc.run();
            } catch (const std::exception& e) {
                log::error("http.worker_error", e.what());
            }
        });
    }
}

std::uint16_t server::port() const {
    return impl_->port;
}

void server::begin_drain() {
    if (impl_->draining.exchange(true))
        return;
    for (auto& w : impl_->workers) {
        worker* raw = w.get();
        net::post(raw->ioc, [raw] {
            error_code ec;
            if (raw->acceptor)
                raw->acceptor->close(ec);
            for (auto& c : raw->connections) {
                if (c.idle)
                    c.stream->cancel();
            }
        });
    }
}

bool server::draining() const {
    return impl_->draining.load();
}
std::size_t server::in_flight() const {
    return impl_->in_flight.load();
}
std::size_t server::connections() const {
    return impl_->connections.load();
}

void server::stop() {
    if (!impl_ || impl_->stopped.exchange(true))
        return;
    for (auto& w : impl_->workers) {
        worker* raw = w.get();
        net::post(raw->ioc, [raw] {
            error_code ec;
            if (raw->acceptor)
                raw->acceptor->close(ec);
            for (auto& c : raw->connections)
                c.stream->socket().close(ec);
            raw->ioc.stop();
        });
    }
    for (auto& w : impl_->workers) {
        if (w->thread.joinable())
            w->thread.join();
    }
}

}  // namespace ditto::http
