#include "ditto/upstream/client.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

#include "ditto/core/saturating.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/http/error_body.hpp"
#include "ditto/http/message_parser.hpp"
#include "ditto/http/watched_stream.hpp"
#include "ditto/http/wire.hpp"
#include "ditto/log/log.hpp"

namespace ditto::upstream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// The token for a read or write on `Stream`: a deferred operation, which costs no coroutine
// frame per initiation as use_awaitable does (issue 21, docs/performance.md), where the stream
// supports it. Beast's ssl_stream does not in Boost 1.81.
template <class Stream>
constexpr auto nothrow_for() {
    if constexpr (std::is_same_v<Stream, http::watched_stream>)
        return net::as_tuple(net::deferred);
    else
        return nothrow;
}

// A connection to one backend: a socket under one deadline per connection (the server's
// watched_stream, docs/http-server.md "Deadlines"), and TLS layered over it for https. An
// operation the watchdog ended reports beast::error::timeout (see `why`).
class connection {
  public:
    using tls_stream = beast::ssl_stream<http::watched_stream>;

    connection(tcp::socket socket, clock::duration tick)
        : plain_(std::make_unique<http::watched_stream>(std::move(socket), tick)), tick_(tick) {}

    http::watched_stream& watch() { return tls_ ? tls_->next_layer() : *plain_; }
    tcp::socket& socket() { return watch().socket(); }
    bool is_tls() const { return tls_ != nullptr; }
    tls_stream& tls() { return *tls_; }

    void make_tls(net::ssl::context& ctx) {
        tls_ = std::make_unique<tls_stream>(std::move(plain_->socket()), ctx);
        tls_->next_layer().tick(tick_);
        plain_.reset();
    }

    /// An operation's error as the caller should judge it: a timeout when the watchdog closed
    /// the socket under it.
    error_code why(error_code ec) {
        if (ec && watch().timed_out())
            return beast::error::timeout;
        return ec;
    }

    // What a connection holds between two exchanges, by a non-blocking peek: nothing (it can
    // carry the next request), a close from the peer, or bytes nobody asked for — the rest of
    // an answer longer than it said, or a second answer (issue 19). Those would be read as
    // the next request's answer, so such a connection is never reused. On TLS, unread bytes
    // may also be records that are not data (a close_notify, a late session ticket); they
    // end the connection as well, but are not counted as a desync.
    enum class idle_state { clean, closed, unread };
    idle_state probe() {
        auto& s = socket();
        if (!s.is_open())
            return idle_state::closed;
        if (buffer.size() > 0 || (tls_ && SSL_pending(tls_->native_handle()) > 0))
            return idle_state::unread;
        char c = 0;
        const auto n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
            return idle_state::closed;
        if (n > 0)
            return is_tls() ? idle_state::closed : idle_state::unread;
        return errno == EAGAIN || errno == EWOULDBLOCK ? idle_state::clean : idle_state::closed;
    }

    void close() {
        error_code ec;
        socket().shutdown(tcp::socket::shutdown_both, ec);
        socket().close(ec);
    }

    beast::flat_buffer buffer;
    clock::time_point idle_since{};

  private:
    std::unique_ptr<http::watched_stream> plain_;
    std::unique_ptr<tls_stream> tls_;
    clock::duration tick_;
};

pool::pool(backend& b, std::chrono::milliseconds idle_timeout, std::size_t max_idle)
    : backend_(b), idle_timeout_(idle_timeout), max_idle_(max_idle) {}

pool::~pool() {
    for (auto& c : idle_)
        c->close();
}

namespace {

// A connection out of step with its upstream: counted (Prometheus
// `backend_connections_desynced_total`), logged, closed.
void discard_desynced(backend& b, connection& c, std::string_view when) {
    b.note_desync();
    log::warn("upstream.desync",
              "the upstream sent bytes past a complete answer; connection closed, never reused",
              {{"backend", b.name()}, {"detected", std::string(when)}});
    c.close();
}

}  // namespace

std::unique_ptr<connection> pool::take() {
    const auto now = clock::now();
    while (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        // Every reuse is preceded by a peek (one syscall): bytes that arrived while the
        // connection sat idle would otherwise be taken for the next request's answer. A
        // close that races the peek is handled by exchange's one retry on a fresh connection.
        if (now - c->idle_since >= idle_timeout_) {
            c->close();
            continue;
        }
        switch (c->probe()) {
            case connection::idle_state::clean:
                return c;
            case connection::idle_state::unread:
                discard_desynced(backend_, *c, "before reuse");
                break;
            case connection::idle_state::closed:
                c->close();
                break;
        }
    }
    return nullptr;
}

void pool::give_back(std::unique_ptr<connection> c) {
    // Bytes already read past the end of the answer: the upstream is out of step.
    if (c->buffer.size() > 0) {
        discard_desynced(backend_, *c, "after the answer");
        return;
    }
    if (idle_.size() >= max_idle_) {
        c->close();
        return;
    }
    c->idle_since = clock::now();
    c->watch().expires_never();  // idle connections are bounded by idle_timeout, at take()
    idle_.push_back(std::move(c));
}

namespace {

bool is_ip_literal(const std::string& host) {
    error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

// Resolves and connects (and handshakes, for https) before `deadline`.
net::awaitable<std::unique_ptr<connection>> connect(backend& b, clock::time_point deadline,
                                                    std::string& error, bool& timed_out) {
    auto ex = co_await net::this_coro::executor;
    const auto& url = b.url();
    tcp::resolver resolver(ex);
    // The resolver has no deadline of its own: race it against one, so a hung DNS server
    // cannot hold the request past the backend's timeout (the loser is cancelled).
    using namespace net::experimental::awaitable_operators;
    net::steady_timer timer(ex, deadline);
    auto raced = co_await (resolver.async_resolve(url.host, std::to_string(url.port), nothrow) ||
                           timer.async_wait(nothrow));
    if (raced.index() == 1) {
        timed_out = true;
        error = "resolving " + url.host + " timed out";
        co_return nullptr;
    }
    auto [rec, endpoints] = std::get<0>(std::move(raced));
    if (rec) {
        error = "cannot resolve " + url.host + ": " + rec.message();
        co_return nullptr;
    }
    // The watchdog's tick is the backend's timeout: the deadline every exchange stamps first,
    // so a stamp moves the timer only after the connection sat idle (watched_stream.hpp).
    auto c = std::make_unique<connection>(tcp::socket(ex), b.timeout());
    c->watch().expires_at(deadline);
    auto [connect_ec, ep] =
        co_await net::async_connect(c->socket(), endpoints, net::as_tuple(net::deferred));
    if (const auto cec = c->why(connect_ec)) {
        timed_out = cec == beast::error::timeout;
        error = "connect to " + url.host_header + ": " + cec.message();
        co_return nullptr;
    }
    error_code nodelay_ec;
    c->socket().set_option(tcp::no_delay(true), nodelay_ec);
    if (b.tls()) {
        c->make_tls(*b.tls());
        auto* ssl = c->tls().native_handle();
        if (!is_ip_literal(url.host))
            SSL_set_tlsext_host_name(ssl, url.host.c_str());
        // Verify the certificate names the host we dialled (OpenSSL checks IPs and names).
        SSL_set1_host(ssl, url.host.c_str());
        c->watch().expires_at(deadline);  // a new stream under TLS: stamped again
        auto [handshake_ec] =
            co_await c->tls().async_handshake(net::ssl::stream_base::client, nothrow);
        if (const auto hec = c->why(handshake_ec)) {
            timed_out = hec == beast::error::timeout;
            error = "TLS handshake with " + url.host_header + ": " + hec.message();
            co_return nullptr;
        }
    }
    c->watch().expires_never();
    co_return c;
}

template <class Stream>
net::awaitable<error_code> write_request(Stream& s, connection& c, outgoing& req,
                                         clock::time_point deadline,
                                         std::chrono::milliseconds gap) {
    c.watch().expires_at(deadline);
    if (!req.streamed_body) {
        std::string head;
        head.reserve(512);
        http::wire::append_request_head(head, req.msg);
        const std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(req.body)};
        auto [ec, n] = co_await net::async_write(s, bufs, nothrow_for<Stream>());
        co_return c.why(ec);
    }
    // Large client bodies go out as they arrive: the head first, then each piece.
    const auto length = req.streamed_body->content_length();
    if (length) {
        req.msg.content_length(*length);
    } else {
        req.msg.erase(bhttp::field::content_length);
        req.msg.set(bhttp::field::transfer_encoding, "chunked");
    }
    std::string out;
    out.reserve(512);
    http::wire::append_request_head(out, req.msg);
    auto [hec, hn] = co_await net::async_write(s, net::buffer(out), nothrow_for<Stream>());
    if (hec)
        co_return c.why(hec);
    for (;;) {
        c.watch().expires_never();  // waiting for the client now, under its own deadline
        error_code rec;
        auto piece = co_await req.streamed_body->read_some(rec);
        if (rec)
            co_return rec;
        if (!piece)
            break;
        if (piece->empty())
            continue;  // an empty chunk would end the body
        c.watch().expires_after(gap);
        out.clear();
        if (!length)
            http::wire::append_chunk_size(out, piece->size());
        const std::array<net::const_buffer, 3> bufs{
            net::buffer(out), net::buffer(*piece),
            length ? net::const_buffer() : net::buffer("\r\n", 2)};
        auto [wec, n] = co_await net::async_write(s, bufs, nothrow_for<Stream>());
        if (wec)
            co_return c.why(wec);
    }
    if (!length) {
        c.watch().expires_after(gap);
        auto [ec, n] =
            co_await net::async_write(s, net::buffer("0\r\n\r\n", 5), nothrow_for<Stream>());
        co_return c.why(ec);
    }
    co_return error_code{};
}

// Why the gateway cut an answer it was relaying (issue 19 item 8): a trickling upstream.
enum class cut { max_response, too_slow };

// Shared by a relay and its response's cut_event: set when the relay cuts the answer, so the
// client is told why instead of seeing a reset (other failures still reset).
struct cut_note {
    std::optional<cut> why;
};

std::string cut_message(cut why) {
    return why == cut::max_response ? "the answer took longer than max_response_seconds"
                                    : "the upstream sent less than min_response_bytes_per_second";
}

// The SSE error event a cut stream ends with (http::response::cut_event).
std::string sse_cut_event(const cut_note& note) {
    if (!note.why)
        return {};
    return "event: error\ndata: " +
           http::openai_error(http::gateway_error::backend_timeout,
                              "backend stream cut: " + cut_message(*note.why)) +
           "\n\n";
}

// What bounds a whole answer beyond the gap timeout (backend::max_response,
// backend::min_bytes_per_second).
struct pace {
    std::optional<clock::time_point> end_by;  ///< max_response_seconds, if set
    std::uint64_t min_bytes_per_second = 0;   ///< 0: off
    std::chrono::milliseconds window{};       ///< the rate is judged over each window
};

// Relays an upstream body to the client piece by piece; the connection goes back to the
// pool only when the body ended cleanly and both sides keep the connection alive.
class relay_stream final : public http::body_stream {
  public:
    relay_stream(pool& p, std::unique_ptr<connection> c, http::response_parser&& head,
                 std::chrono::milliseconds gap, pace limits, std::shared_ptr<cut_note> note)
        : pool_(p),
          conn_(std::move(c)),
          parser_(std::move(head)),
          gap_(gap),
          pace_(limits),
          note_(std::move(note)),
          window_end_(clock::now() + limits.window),
          window_need_(core::sat_mul(limits.min_bytes_per_second,
                                     static_cast<std::uint64_t>(limits.window.count())) /
                       1000) {
        parser_.body_limit(boost::none);
    }

    net::awaitable<std::optional<std::string>> next(error_code& ec) override {
        if (!conn_)
            co_return std::nullopt;
        // The piece is parsed into a buffer kept across calls (its capacity is what an idle
        // SSE stream costs while it waits: 4 KiB, doubled to 64 KiB only while pieces fill it);
        // each piece returned is a copy of just the bytes parsed.
        piece_.clear();
        parser_.pieces_to(&piece_, piece_size_);
        for (;;) {
            // The chunks already read go into the same piece, not one chunk per call: an SSE
            // upstream sends an event per chunk and one read often brings dozens, each of
            // which would otherwise cost a coroutine round trip and a client write.
            error_code pec;
            while (!parser_.is_done() && conn_->buffer.size() > 0) {
                const auto used = parser_.put(conn_->buffer.data(), pec);
                conn_->buffer.consume(used);
                if (pec == bhttp::error::need_more || pec == bhttp::error::need_buffer) {
                    pec = {};
                    break;
                }
                if (pec || used == 0)
                    break;
            }
            if (pec) {
                abort();
                ec = pec;
                co_return std::nullopt;
            }
            if (!piece_.empty() || parser_.is_done())
                break;
            const auto limit = read_deadline();
            conn_->watch().expires_at(limit.first);
            error_code rec;
            std::size_t n = 0;
            const auto room = conn_->buffer.prepare(beast::read_size(conn_->buffer, 65536));
            if (conn_->is_tls()) {
                std::tie(rec, n) = co_await conn_->tls().async_read_some(room, nothrow);
            } else {
                std::tie(rec, n) = co_await conn_->watch().async_read_some(
                    room, nothrow_for<http::watched_stream>());
            }
            // The piece now goes to the client, which has deadlines of its own.
            conn_->watch().expires_never();
            rec = conn_->why(rec);
            conn_->buffer.commit(n);
            if (rec == net::error::eof) {
                // A body that ends with the connection ends here; any other is cut short.
                parser_.put_eof(rec);
                if (!rec)
                    break;
            }
            if (rec) {
                if (rec == beast::error::timeout && limit.second) {
                    note_->why = limit.second;
                    log::warn("upstream.stream_cut", cut_message(*limit.second),
                              {{"backend", pool_.target().name()}});
                }
                // The upstream died or stalled mid-body: abort the client's response too.
                abort();
                ec = rec;
                co_return std::nullopt;
            }
            // The socket is read through the connection's buffer, whose capacity (a few
            // hundred bytes after the head) sets the read size: doubled while reads fill it, so
            // a paced stream keeps it small and a fast one is read 64 KiB per call.
            if (const auto cap = conn_->buffer.capacity(); n * 4 >= cap * 3 && cap < 65536)
                conn_->buffer.reserve(std::min<std::size_t>(cap * 2, 65536));
        }
        window_bytes_ += piece_.size();
        if (piece_.empty()) {
            finish();
            co_return std::nullopt;
        }
        if (piece_.size() == piece_size_)
            piece_size_ = std::min<std::size_t>(piece_size_ * 2, 65536);
        std::string piece(piece_);
        if (parser_.is_done())
            finish();
        co_return piece;
    }

  private:
    // The next read's deadline: the gap timeout, or sooner the answer's total cap, or the end
    // of a rate window that has not brought its bytes yet; with the cut that deadline means.
    std::pair<clock::time_point, std::optional<cut>> read_deadline() {
        const auto now = clock::now();
        std::pair<clock::time_point, std::optional<cut>> d{now + gap_, std::nullopt};
        if (pace_.end_by && *pace_.end_by <= d.first)
            d = {*pace_.end_by, cut::max_response};
        if (pace_.min_bytes_per_second > 0) {
            // Judged only while waiting for the upstream: time spent writing to a slow client
            // starts a new window instead of counting against the upstream.
            if (now >= window_end_) {
                window_end_ = now + pace_.window;
                window_bytes_ = 0;
            }
            if (window_bytes_ < window_need_ && window_end_ < d.first)
                d = {window_end_, cut::too_slow};
        }
        return d;
    }

    void abort() {
        conn_->close();
        conn_.reset();
    }

    void finish() {
        if (!conn_)
            return;
        if (parser_.keep_alive()) {
            pool_.give_back(std::move(conn_));
        } else {
            conn_->close();
            conn_.reset();
        }
    }

    pool& pool_;
    std::unique_ptr<connection> conn_;
    http::response_parser parser_;
    std::size_t piece_size_ = 4096;
    std::string piece_;
    std::chrono::milliseconds gap_;
    pace pace_;
    std::shared_ptr<cut_note> note_;
    clock::time_point window_end_;
    std::uint64_t window_need_;
    std::uint64_t window_bytes_ = 0;
};

// The upstream's head becomes the client's: moved, not copied, then cleaned.
http::response to_client_head(http::response_message&& up) {
    http::response r;
    r.msg = std::move(up);
    r.msg.version(11);
    strip_hop_by_hop(r.msg);
    return r;
}

bool has_no_body(const http::response_message& h, bhttp::verb method) {
    const auto st = h.result_int();
    return method == bhttp::verb::head || (st >= 100 && st < 200) || st == 204 || st == 304;
}

// How one try on one connection ended, beyond its result: whether the request could not
// have been processed (nothing written, or a reused connection closed before any response
// byte), which makes a second try on a fresh connection safe.
struct try_outcome {
    bool write_failed = false;
    bool closed_before_response = false;
};

// Parses what the connection already holds: success once the parser has what it was asked
// for (`head_only`: the head, else the whole message), an error, or nullopt when it needs more
// bytes. A small body that came with the head is read this way, without a coroutine frame.
template <class Parser>
std::optional<error_code> parse_held(connection& c, Parser& parser, bool head_only) {
    const auto finished = [&] { return head_only ? parser.is_header_done() : parser.is_done(); };
    while (c.buffer.size() > 0 && !finished()) {
        error_code ec;
        const auto used = parser.put(c.buffer.data(), ec);
        c.buffer.consume(used);
        if (ec == bhttp::error::need_more || (!ec && used == 0))
            break;
        if (ec)
            return ec;
    }
    if (finished())
        return error_code{};
    return std::nullopt;
}

// Feeds `parser` what the connection already holds and reads from `s` only while that is not
// enough: a head, or a small body, that came in one read is one synchronous parse instead of
// Beast's composed read (docs/performance.md). Errors as Beast's read gives them: the
// connection closed before any byte is end_of_stream, within a message partial_message.
template <class Stream, class Parser>
net::awaitable<error_code> read_parse(Stream& s, connection& c, Parser& parser, bool head_only) {
    for (;;) {
        if (auto held = parse_held(c, parser, head_only))
            co_return *held;
        auto [ec, n] = co_await s.async_read_some(
            c.buffer.prepare(beast::read_size(c.buffer, 65536)), nothrow_for<Stream>());
        if (ec == net::error::eof) {
            if (!parser.got_some())
                co_return bhttp::error::end_of_stream;
            error_code eof_ec;
            parser.put_eof(eof_ec);
            if (!eof_ec && (head_only ? parser.is_header_done() : parser.is_done()))
                co_return error_code{};
            co_return eof_ec ? eof_ec : bhttp::error::partial_message;
        }
        if (ec)
            co_return c.why(ec);
        c.buffer.commit(n);
    }
}

// Not coroutines: each hands back read_parse's own awaitable, one frame per read.
template <class Stream>
net::awaitable<error_code> read_head(Stream& s, connection& c, http::response_parser& head) {
    head.body_limit(boost::none);
    return read_parse(s, c, head, true);
}

template <class Stream, class Parser>
net::awaitable<error_code> read_whole(Stream& s, connection& c, Parser& parser) {
    return read_parse(s, c, parser, false);
}

// The earlier of `t` and the answer's total cap, and whether the cap is the earlier.
std::pair<clock::time_point, bool> capped(clock::time_point t,
                                          const std::optional<clock::time_point>& end_by) {
    if (end_by && *end_by < t)
        return {*end_by, true};
    return {t, false};
}

std::string over_max_response(const backend& b) {
    return "no complete answer within max_response_seconds (" +
           std::to_string(b.max_response().count() / 1000) + "s)";
}

bool closed_by_peer(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated;
}

// One try on one connection: send, then read the head (skipping interim 1xx answers), then
// either the whole small body or hand the rest to a relay stream.
net::awaitable<exchange_result> try_exchange(pool& p, std::unique_ptr<connection> c, outgoing& req,
                                             std::uint64_t buffer_limit, clock::time_point deadline,
                                             std::chrono::milliseconds timeout, try_outcome& how) {
    exchange_result out;
    error_code ec;
    if (c->is_tls()) {
        ec = co_await write_request(c->tls(), *c, req, deadline, timeout);
    } else {
        ec = co_await write_request(c->watch(), *c, req, deadline, timeout);
    }
    if (ec) {
        how.write_failed = true;
        out.failure = ec == beast::error::timeout ? failure_kind::timeout : failure_kind::network;
        out.error = "sending request: " + ec.message();
        c->close();
        co_return out;
    }

    // The whole answer, from now to its last byte, within max_response_seconds if set.
    const auto& b = p.target();
    std::optional<clock::time_point> end_by;
    if (b.max_response().count() > 0)
        end_by = clock::now() + b.max_response();
    // A streamed upload may have taken longer than the whole deadline; the upstream then
    // gets its full timeout for the head from the moment the body was sent.
    // (No structured bindings in a coroutine frame: docs/architecture.md, GCC 12 rules.)
    const auto head_limit = capped(req.streamed_body ? clock::now() + timeout : deadline, end_by);
    c->watch().expires_at(head_limit.first);
    http::response_message head_msg;
    std::optional<http::response_parser> head;
    for (;;) {
        head_msg.clear();
        head.emplace(head_msg);
        // if/else, not ?: — GCC 12 miscompiles co_await inside a conditional operator.
        if (c->is_tls()) {
            ec = co_await read_head(c->tls(), *c, *head);
        } else {
            ec = co_await read_head(c->watch(), *c, *head);
        }
        // 1xx answers (100 Continue, 103 Early Hints) are interim: the final one follows on
        // the same connection and must be read here, or the connection is out of step.
        if (ec || head_msg.result_int() >= 200 || head_msg.result_int() == 101)
            break;
    }
    if (ec) {
        how.closed_before_response = closed_by_peer(ec) && !head->got_some();
        out.failure = ec == beast::error::timeout ? failure_kind::timeout : failure_kind::network;
        if (ec == beast::error::timeout) {
            out.error = head_limit.second
                            ? over_max_response(b)
                            : "no response within " + std::to_string(timeout.count() / 1000) + "s";
        } else {
            out.error = "reading response: " + ec.message();
        }
        c->close();
        co_return out;
    }
    if (head_msg.result_int() == 101) {
        out.failure = failure_kind::network;
        out.error = "upstream switched protocols (101); upgrades are not proxied";
        c->close();
        co_return out;
    }

    const bool no_body = has_no_body(head_msg, req.msg.method());
    out.response = to_client_head(std::move(head_msg));
    head->detach();
    if (no_body) {
        if (head->keep_alive()) {
            p.give_back(std::move(c));
        } else {
            c->close();
        }
        out.response.msg.body().clear();
        co_return out;
    }
    const auto length = head->content_length();
    if (length && *length <= buffer_limit) {
        auto& whole = *head;
        whole.body_to(&out.response.msg.body(), buffer_limit);
        const auto body_limit = capped(clock::now() + timeout, end_by);
        c->watch().expires_at(body_limit.first);
        // if/else, not ?: — GCC 12 miscompiles co_await inside a conditional operator. A body
        // that came with the head is parsed at once.
        if (auto held = parse_held(*c, whole, false)) {
            ec = *held;
        } else if (c->is_tls()) {
            ec = co_await read_whole(c->tls(), *c, whole);
        } else {
            ec = co_await read_whole(c->watch(), *c, whole);
        }
        if (ec) {
            out.failure =
                ec == beast::error::timeout ? failure_kind::timeout : failure_kind::network;
            out.error = ec == beast::error::timeout && body_limit.second
                            ? over_max_response(b)
                            : "reading response body: " + ec.message();
            c->close();
            co_return out;
        }
        out.response.msg.prepare_payload();
        if (whole.keep_alive()) {
            p.give_back(std::move(c));
        } else {
            c->close();
        }
        co_return out;
    }
    // Relayed: keep a known length (sent as is), otherwise the server re-chunks.
    if (!length)
        out.response.msg.erase(bhttp::field::content_length);
    // A cut SSE stream ends with an error event the client's SDK reports.
    auto note = std::make_shared<cut_note>();
    c->watch().expires_never();  // each relay read stamps its own deadline
    if (http::is_event_stream(out.response)) {
        out.response.cut_event = [note](const error_code&) { return sse_cut_event(*note); };
    }
    out.response.stream =
        std::make_unique<relay_stream>(p, std::move(c), std::move(*head), timeout,
                                       pace{end_by, b.min_bytes_per_second(), timeout}, note);
    co_return out;
}

}  // namespace

net::awaitable<exchange_result> exchange(pool& p, outgoing& req, std::uint64_t buffer_limit,
                                         std::chrono::milliseconds timeout) {
    auto& b = p.target();
    if (timeout.count() <= 0)
        timeout = b.timeout();
    const auto deadline = clock::now() + timeout;
    auto c = p.take();
    const bool reused = c != nullptr;
    for (int attempt = 0;; ++attempt) {
        if (!c) {
            std::string error;
            bool timed_out = false;
            c = co_await connect(b, deadline, error, timed_out);
            if (!c) {
                exchange_result r;
                r.failure = timed_out ? failure_kind::timeout : failure_kind::network;
                r.request_sent = false;
                r.error = std::move(error);
                co_return r;
            }
        }
        try_outcome how;
        auto r = co_await try_exchange(p, std::move(c), req, buffer_limit, deadline, timeout, how);
        // A pooled connection the upstream closed while idle: either the write failed (the
        // request never left), or it closed before any response byte, which is only retried
        // when replaying is safe (docs/proxy.md). One fresh connection, never a streamed body.
        const bool stale = how.write_failed || (how.closed_before_response && req.replay_safe);
        if (r.failure == failure_kind::none || !reused || attempt > 0 || !stale ||
            req.streamed_body) {
            co_return r;
        }
    }
}

// One pass over the head, comparing field enums.
void strip_hop_by_hop(http::header_list& f) {
    f.erase_if([](const http::header_list::value_type& v) {
        using fd = bhttp::field;
        switch (v.name()) {
            case fd::connection:
            case fd::keep_alive:
            case fd::proxy_connection:
            case fd::transfer_encoding:
            case fd::te:
            case fd::trailer:
            case fd::upgrade:
            case fd::proxy_authenticate:
                return true;
            case fd::unknown:
                return core::iequals(v.name_string(), "x-ditto-cache");
            default:
                return false;
        }
    });
}

namespace {

// Credentials and hop-by-hop headers never go upstream, nor Host/Expect (ours; docs/proxy.md).
// Beast already classified known names, so most checks are one enum comparison.
bool forwarded_upstream(bhttp::field name, std::string_view text) {
    using f = bhttp::field;
    switch (name) {
        case f::authorization:
        case f::proxy_authorization:
        case f::connection:
        case f::keep_alive:
        case f::proxy_authenticate:
        case f::proxy_connection:
        case f::te:
        case f::trailer:
        case f::transfer_encoding:
        case f::upgrade:
        case f::content_length:
        case f::host:
        case f::expect:
            return false;
        default:
            break;
    }
    if (text.size() < 2 || (text[0] != 'x' && text[0] != 'X'))
        return true;
    static constexpr std::string_view x_excluded[] = {"x-api-key",
                                                      "x-litellm-api-key",
                                                      "x-forwarded-authorization",
                                                      "x-ditto-virtual-key",
                                                      "x-ditto-protocol",
                                                      "x-ditto-cache-bypass",
                                                      "x-ditto-bypass-cache",
                                                      "x-goog-api-key"};
    for (auto ex : x_excluded) {
        if (core::iequals(text, ex))
            return false;
    }
    return true;
}

}  // namespace

outgoing build_outgoing(const http::request& client, const backend& b, std::string_view path,
                        std::string_view query, std::string_view body,
                        std::string_view request_id) {
    outgoing out;
    auto& m = out.msg;
    // An extension method (`QUERY`, any token Beast has no verb for) goes out by name:
    // Beast's method(verb::unknown) throws, which made such a request a 500 (found by fuzzing).
    if (client.method() == bhttp::verb::unknown)
        m.method_string(client.method_string());
    else
        m.method(client.method());
    m.version(11);
    m.target(join_target(b.url(), path, query, b.encoded_query()));
    for (const auto& f : client) {
        if (!forwarded_upstream(f.name(), f.name_string()))
            continue;
        m.insert(f.name(), f.name_string(), f.value());  // the name is known: no second lookup
    }
    // Client `Connection: x-foo` names more hop-by-hop headers (RFC 9110 §7.6.1).
    if (auto it = client.find(bhttp::field::connection); it != client.end()) {
        std::string_view list = it->value();
        while (!list.empty()) {
            auto comma = list.find(',');
            auto token = core::trim(list.substr(0, comma));
            if (!token.empty())
                m.erase(token);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
    }
    for (const auto& [k, v] : b.headers())
        m.set(k, v);
    m.set("x-request-id", request_id);
    m.set(bhttp::field::host, b.url().host_header);
    m.keep_alive(true);
    out.body = body;
    if (!body.empty() || client.method() == bhttp::verb::post ||
        client.method() == bhttp::verb::put || client.method() == bhttp::verb::patch) {
        m.content_length(body.size());
    }
    return out;
}

}  // namespace ditto::upstream
