#include "ditto/http/server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <limits>
#include <list>
#include <system_error>
#include <thread>
#include <tuple>

#include "ditto/http/framing.hpp"
#include "ditto/http/message_parser.hpp"
#include "ditto/http/watched_stream.hpp"
#include "ditto/http/wire.hpp"
#include "ditto/log/log.hpp"

namespace ditto::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
// Socket operations are awaited as deferred operations: no coroutine frame per initiation, as
// use_awaitable makes (issue 21; docs/performance.md). Errors come back as values.
constexpr auto nothrow = net::as_tuple(net::deferred);
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// A connection as its worker sees it; `idle` means waiting for the next request, so a drain
// may close it without losing anything.
struct connection_slot {
    watched_stream* stream;
    bool idle;
};

struct worker {
    // Destroyed after io_context: coroutine frames destroyed with it still erase themselves.
    std::list<connection_slot> connections;
    // One thread runs this loop and only it touches the worker's sockets, so the reactor's
    // per-descriptor locks can go; the scheduler stays locked, because drain and stop post
    // to it from the control thread.
    net::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    std::optional<tcp::acceptor> acceptor;
    std::thread thread;
    unsigned index = 0;
};

}  // namespace

struct server::impl {
    server_options opt;
    std::shared_ptr<handler> h;
    std::atomic<bool> draining{false};
    std::atomic<bool> stopped{false};
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> peak_connections{0};
    std::uint16_t port = 0;
    // Last, so it is destroyed first: coroutine frames destroyed with the workers' event
    // loops still update the counters above.
    std::vector<std::unique_ptr<worker>> workers;
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
net::awaitable<void> lingering_close(watched_stream& stream) {
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

bool has_no_body(const response_message& h) {
    const auto st = h.result_int();
    return (st >= 100 && st < 200) || st == 204 || st == 304;
}

template <class Buffers>
net::awaitable<bool> write_all(server::impl& self, watched_stream& stream, const Buffers& buffers) {
    stream.expires_after(self.opt.client_timeout);
    auto [ec, n] = co_await net::async_write(stream, buffers, nothrow);
    stream.expires_never();  // an SSE relay now waits for the upstream, not the client
    co_return !ec;
}

// Sends the head, then the stream's pieces: raw when the head declares a Content-Length
// (and they must add up to it), otherwise one chunk each. The first piece goes out in the
// same write as the head, so the client wakes once for both (SSE time to first byte).
net::awaitable<bool> write_streamed(server::impl& self, watched_stream& stream, response& res) {
    auto& head = res.msg.base();
    std::optional<std::uint64_t> length;
    if (auto it = head.find(field::content_length); it != head.end()) {
        std::uint64_t v = 0;
        auto sv = it->value();
        auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
        if (ec == std::errc() && p == sv.data() + sv.size())
            length = v;
    }
    // HTTP/1.0 has no chunked coding: without a length the body ends with the connection
    // (serve() has already made this response close it).
    const bool chunked = !length && head.version() != 10;
    if (chunked) {
        head.erase(field::content_length);
        head.set(field::transfer_encoding, "chunked");
    }
    std::string out;
    out.reserve(512);
    wire::append_response_head(out, head);
    std::uint64_t sent = 0;
    std::array<char, 2> tail{'\n', '\n'};  // the body's last two bytes (empty: an event end)
    for (;;) {
        error_code sec;
        auto piece = co_await res.stream->next(sec);
        if (sec) {
            // Cut on purpose: an SSE error event, after a blank line that ends whatever event
            // was half sent, then a clean end.
            std::string event = chunked && res.cut_event ? res.cut_event(sec) : std::string();
            if (!event.empty()) {
                if (tail[0] != '\n' || tail[1] != '\n')
                    event.insert(0, "\n\n");
                wire::append_chunk_size(out, event.size());
                out.append(event).append("\r\n0\r\n\r\n");
                co_await write_all(self, stream, net::buffer(out));
                co_return false;
            }
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
        if (length && sent + piece->size() > *length)
            co_return false;  // overran its length
        if (chunked)
            wire::append_chunk_size(out, piece->size());
        const std::array<net::const_buffer, 3> bufs{
            net::buffer(out), net::buffer(*piece),
            chunked ? net::buffer("\r\n", 2) : net::const_buffer()};
        if (!co_await write_all(self, stream, bufs))
            co_return false;
        sent += piece->size();
        tail[0] = piece->size() > 1 ? (*piece)[piece->size() - 2] : tail[1];
        tail[1] = piece->back();
        out.clear();
    }
    if (!chunked) {
        if (!out.empty() && !co_await write_all(self, stream, net::buffer(out)))
            co_return false;
        co_return !length || sent == *length;
    }
    out += "0\r\n\r\n";
    co_return co_await write_all(self, stream, net::buffer(out));
}

net::awaitable<bool> write_response(server::impl& self, watched_stream& stream, response& res,
                                    bool head_only) {
    if (res.stream && !head_only)
        co_return co_await write_streamed(self, stream, res);
    const std::string& body = res.stored_body ? *res.stored_body : res.msg.body();
    // A HEAD answer keeps whatever length the full answer would have had (or none).
    if (!res.stream && !head_only && !has_no_body(res.msg.base()) &&
        !res.msg.has_content_length()) {
        res.msg.content_length(body.size());
    }
    std::string head;
    head.reserve(256 + res.stored_fields.size());
    wire::append_response_head(head, res.msg.base(), res.stored_fields);
    // The write is awaited here, not through write_all(): one coroutine frame less per answer.
    const std::array<net::const_buffer, 2> bufs{
        net::buffer(head), head_only ? net::const_buffer() : net::buffer(body)};
    stream.expires_after(self.opt.client_timeout);
    auto [ec, n] = co_await net::async_write(stream, bufs, nothrow);
    stream.expires_never();
    co_return !ec;
}

net::awaitable<bool> write_reject(server::impl& self, watched_stream& stream, reject_reason reason,
                                  std::string_view target, unsigned version) {
    response res;
    res.msg.result(status_of(error_of(reason)));
    res.msg.version(version == 10 ? 10u : 11u);
    res.msg.set(field::content_type, "application/json");
    res.msg.body() = self.h->reject_body(reason, target);
    res.msg.keep_alive(false);
    res.msg.prepare_payload();
    co_return co_await write_response(self, stream, res, false);
}

// What the server reads and throws away of a body the handler left unread before it gives
// up on keeping the connection alive.
constexpr std::uint64_t max_drain_bytes = 1024 * 1024;

// How much of a streamed body one read_some() returns at most.
constexpr std::size_t max_piece_bytes = 64 * 1024;

// The body of the request being served, read from the connection only when asked, by the
// same parser that read the head.
class connection_body final : public body_reader {
  public:
    connection_body(server::impl& self, watched_stream& stream, beast::flat_buffer& buf,
                    request_parser& parser)
        : self_(self), stream_(stream), buf_(buf), parser_(parser), no_body_(parser.is_done()) {
        expect_continue_ = beast::iequals(parser.get()[field::expect], "100-continue");
    }

    std::optional<std::uint64_t> content_length() const override {
        auto v = parser_.content_length();
        return v ? std::optional<std::uint64_t>(*v) : std::nullopt;
    }

    bool done() const override { return no_body_ || parser_.is_done(); }
    bool failed() const { return failed_; }
    bool started() const { return started_; }

    bool ready() const override {
        if (done())
            return true;
        if (started_ || failed_ || expect_continue_)
            return false;
        const auto declared = parser_.content_length();
        return declared && buf_.size() >= *declared;
    }

    error_code read_now(std::string& out, std::uint64_t limit) override {
        if (done())
            return error_code{};
        if (auto ec = start(limit))
            return ec;
        out.clear();
        parser_.body_to(&out, limit);
        if (auto ec = parse_buffered())
            return fail(ec);
        if (!parser_.is_done())  // only when ready() said it would be
            return fail(bhttp::error::partial_message);
        return error_code{};
    }

    net::awaitable<error_code> read_all(std::string& out, std::uint64_t limit) override {
        if (done())
            co_return error_code{};
        if (auto ec = start(limit))
            co_return ec;
        if (auto ec = co_await send_continue(); ec)
            co_return fail(ec);
        out.clear();
        parser_.body_to(&out, limit);
        for (;;) {
            if (auto ec = parse_buffered())
                co_return fail(ec);
            if (parser_.is_done())
                co_return error_code{};
            if (auto ec = co_await read_more())
                co_return fail(ec);
        }
    }

    net::awaitable<std::optional<std::string>> read_some(error_code& ec) override {
        if (done())
            co_return std::nullopt;
        if (!streaming_) {
            if (started_ || failed_) {
                ec = bhttp::error::body_limit;
                co_return std::nullopt;
            }
            started_ = true;
            streaming_ = true;
            if (auto cec = co_await send_continue(); cec) {
                ec = fail(cec);
                co_return std::nullopt;
            }
        }
        std::string piece;
        parser_.pieces_to(&piece, max_piece_bytes);
        for (;;) {
            if (auto pec = parse_buffered()) {
                ec = fail(pec);
                co_return std::nullopt;
            }
            if (!piece.empty())
                co_return piece;
            if (parser_.is_done())
                co_return std::nullopt;
            if (auto rec = co_await read_more()) {
                ec = fail(rec);
                co_return std::nullopt;
            }
        }
    }

    // After the handler: reads and discards a small unread body so the connection can be
    // reused; false when it cannot be (too large, broken, or half-streamed).
    net::awaitable<bool> drain() {
        if (failed_)
            co_return false;
        if (done())
            co_return true;
        // Started but unfinished, or the client still waits for our 100-continue (it has not
        // sent the body, and answering without one means closing: RFC 9110 §10.1.1).
        if (started_ || expect_continue_)
            co_return false;
        if (auto len = content_length(); len && *len > max_drain_bytes)
            co_return false;
        std::string sink;
        auto ec = co_await read_all(sink, max_drain_bytes);
        co_return !ec;
    }

  private:
    // A whole-body read begins: once only. A declared length over the limit is refused before
    // anything is read or reserved.
    error_code start(std::uint64_t limit) {
        if (started_ || failed_)
            return bhttp::error::body_limit;
        started_ = true;
        if (const auto declared = parser_.content_length(); declared && *declared > limit)
            return fail(bhttp::error::body_limit);
        return error_code{};
    }

    // What of the body is already buffered (a small one usually came with the head) is parsed
    // without a read; it stops where the parser wants more bytes or its sink is full.
    error_code parse_buffered() {
        while (!parser_.is_done() && buf_.size() > 0) {
            error_code ec;
            const auto used = parser_.put(buf_.data(), ec);
            buf_.consume(used);
            if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer ||
                (!ec && used == 0)) {
                break;
            }
            if (ec)
                return ec;
        }
        return error_code{};
    }

    // One read of more body bytes into the connection's buffer, under the client timeout. The
    // connection ending before the body does is a partial message, as Beast reports it.
    net::awaitable<error_code> read_more() {
        stream_.expires_after(self_.opt.client_timeout);
        auto [ec, n] = co_await stream_.async_read_some(buf_.prepare(16 * 1024), nothrow);
        stream_.expires_never();
        if (ec == net::error::eof)
            co_return bhttp::error::partial_message;
        buf_.commit(n);
        co_return ec;
    }

    net::awaitable<error_code> send_continue() {
        if (!expect_continue_)
            co_return error_code{};
        expect_continue_ = false;
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(self_.opt.client_timeout);
        auto [ec, n] = co_await net::async_write(stream_, net::buffer(cont), nothrow);
        stream_.expires_never();
        co_return ec;
    }

    error_code fail(error_code ec) {
        failed_ = true;
        return ec;
    }

    server::impl& self_;
    watched_stream& stream_;
    beast::flat_buffer& buf_;
    request_parser& parser_;
    const bool no_body_;
    bool expect_continue_ = false;
    bool started_ = false;
    bool streaming_ = false;
    bool failed_ = false;
};

// One synchronous step of reading a request head: parses what `buf` holds. need_more when
// the head is incomplete (the start line may have been taken: those bytes go).
error_code put_buffered_head(beast::flat_buffer& buf, request_parser& parser, fold_finder& folds) {
    error_code ec;
    const auto used =
        put_head(parser, std::string_view(static_cast<const char*>(buf.data().data()), buf.size()),
                 folds, ec);
    buf.consume(used);
    return ec;
}

// The rest of a request head the buffer did not hold: the socket is read only while the head
// is incomplete. Called only then, so a head that came whole costs no coroutine frame; one
// synchronous parse per head, instead of Beast's composed read (docs/performance.md).
net::awaitable<error_code> read_rest_of_head(watched_stream& stream, beast::flat_buffer& buf,
                                             request_parser& parser, fold_finder& folds) {
    for (;;) {
        auto [rec, n] = co_await stream.async_read_some(buf.prepare(8192), nothrow);
        if (rec)
            co_return rec;
        buf.commit(n);
        if (auto ec = put_buffered_head(buf, parser, folds); ec != bhttp::error::need_more)
            co_return ec;
    }
}

// Serves requests on one connection until it closes. Returns true when the caller should
// do a lingering close (an error response was sent while the client may still be sending).
net::awaitable<bool> serve(server::impl& self, worker& w, watched_stream& stream,
                           connection_slot& slot, const std::string& remote) {
    beast::flat_buffer buf;
    request req;  // one per connection: each request reuses the last one's memory
    for (;;) {
        slot.idle = true;
        // During a drain an idle connection still waits for a next request (answered with
        // `Connection: close`) until the drain's idle grace closes it (begin_drain).
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

        req.clear();
        request_parser parser(req);
        parser.header_limit(static_cast<std::uint32_t>(self.opt.max_header_bytes));
        parser.body_limit(boost::none);  // the handler decides how much body it accepts
        stream.expires_after(self.opt.header_timeout);
        fold_finder folds;
        auto hec = put_buffered_head(buf, parser, folds);
        if (hec == bhttp::error::need_more)
            hec = co_await read_rest_of_head(stream, buf, parser, folds);
        if (hec == bhttp::error::header_limit) {
            co_await write_reject(self, stream, reject_reason::header_too_large, "", 11);
            co_return true;
        }
        if (hec) {
            // Timeouts and closed connections end quietly; malformed requests get a 400.
            if (hec == beast::error::timeout || hec == bhttp::error::end_of_stream ||
                hec == net::error::eof || hec == net::error::connection_reset ||
                hec == net::error::operation_aborted) {
                co_return false;
            }
            // Beast itself refuses a second Transfer-Encoding, or one after a Content-Length.
            const auto reason = hec == bhttp::error::bad_transfer_encoding
                                    ? reject_reason::bad_framing
                                    : reject_reason::bad_request;
            co_await write_reject(self, stream, reason, "", 11);
            co_return true;
        }
        // A body whose length we could read differently from a later hop is never read: the
        // bytes after the head might be the next request (RFC 9112 §6.3: 400, then close).
        if (!request_framing_ok(req)) {
            co_await write_reject(self, stream, reject_reason::bad_framing, req.target(),
                                  req.version());
            co_return true;
        }

        connection_body body(self, stream, buf, parser);
        counter_guard busy(self.in_flight);
        request_info info{remote, w.index, self.draining.load()};
        response res;
        bool failed = false;
        try {
            stream.expires_never();  // the handler's time is bounded by its own deadlines
            res = co_await self.h->handle(req, body, info);
        } catch (const std::exception& e) {
            // The path only: a query string may carry a credential (`?key=`).
            const auto target = req.target();
            log::error("http.handler_error", e.what(),
                       {{"path", target.substr(0, target.find('?'))}});
            failed = true;
        }
        if (failed) {
            co_await write_reject(self, stream, reject_reason::internal_error, req.target(),
                                  req.version());
            co_return true;
        }
        // The connection can carry another request only if this one's body is fully read.
        // if/else, not ?: — GCC 12 miscompiles co_await inside a conditional operator.
        bool body_clean = false;
        if (!body.failed())
            body_clean = co_await body.drain();
        // An HTTP/1.0 client gets a 1.0 answer; a streamed one without a length can then only
        // end by closing the connection.
        const bool http10 = req.version() == 10;
        if (http10)
            res.msg.version(10);
        const bool close_delimited = http10 && res.stream && !res.msg.has_content_length();
        const bool keep = body_clean && req.keep_alive() && res.msg.keep_alive() &&
                          !self.draining.load() && !close_delimited;
        res.msg.keep_alive(keep);
        const bool ok =
            co_await write_response(self, stream, res, req.method() == bhttp::verb::head);
        if (!ok)
            co_return false;
        if (!keep)
            co_return !body_clean;  // linger when the client may still be sending
    }
}

net::awaitable<void> session(server::impl* self, worker* w, tcp::socket socket) {
    // The watchdog's tick: the shortest timeout stamped on the request path, so that no stamp
    // has to move the timer earlier (watched_stream.hpp).
    const auto tick =
        std::min({self->opt.header_timeout, self->opt.idle_timeout, self->opt.client_timeout});
    watched_stream stream(std::move(socket), tick);
    counter_guard open(self->connections);
    // The most open at once since take_peak_connections(): a burst shorter than whoever
    // samples connections() still shows (one load per connection, a CAS only on a new peak).
    for (auto now = self->connections.load(), peak = self->peak_connections.load();
         now > peak && !self->peak_connections.compare_exchange_weak(peak, now);) {
    }
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
        handler* h = impl_->h.get();
        w->thread = std::thread([raw, h] {
            try {
                raw->ioc.run();
            } catch (const std::exception& e) {
                log::error("http.worker_error", e.what());
            }
            h->worker_stopped(raw->index);
        });
    }
}

std::uint16_t server::port() const {
    return impl_->port;
}

namespace {
constexpr auto drain_idle_grace = std::chrono::seconds(1);
}  // namespace

void server::begin_drain() {
    if (impl_->draining.exchange(true))
        return;
    for (auto& w : impl_->workers) {
        worker* raw = w.get();
        net::post(raw->ioc, [raw] {
            error_code ec;
            if (raw->acceptor)
                raw->acceptor->close(ec);
            // Idle keep-alive connections stay open a moment: a client (a load balancer)
            // that sends on one now gets its answer, with `Connection: close`, instead of a
            // connection closed under its request — which it could not safely retry for a
            // POST. Those still idle after the grace are closed.
            auto grace = std::make_shared<net::steady_timer>(raw->ioc, drain_idle_grace);
            grace->async_wait([raw, grace](const error_code& e) {
                if (e)
                    return;
                for (auto& c : raw->connections) {
                    if (c.idle)
                        c.stream->cancel();
                }
            });
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

std::size_t server::take_peak_connections() {
    return impl_->peak_connections.exchange(impl_->connections.load());
}

void server::on_each_worker(std::function<void()> fn) {
    if (!impl_ || impl_->stopped.load())
        return;
    for (auto& w : impl_->workers)
        net::post(w->ioc, fn);
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
