#include "ditto/store/redis/redis_connection.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <random>
#include <stdexcept>
#include <utility>

namespace ditto::store::redis {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using tls_stream = net::ssl::stream<tcp::socket>;

namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);
constexpr std::chrono::seconds healthy_after{1};
constexpr std::size_t max_kept_buffer = 1U << 20;
constexpr std::chrono::milliseconds sentinel_check_every{200};

// Boost's error_category has a non-virtual (protected) destructor by design: categories
// are never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class redis_error_category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "redis"; }
    std::string message(int ev) const override {
        switch (static_cast<redis_errc>(ev)) {
            case redis_errc::auth_failed:
                return "Redis authentication failed (check the user and password)";
            case redis_errc::select_failed:
                return "Redis refused to select the database";
            case redis_errc::protocol_error:
                return "Redis protocol error";
            case redis_errc::connection_lost:
                return "connection to Redis lost";
            case redis_errc::not_ready:
                return "Redis cannot serve yet (loading, busy or fail-over)";
            case redis_errc::no_primary:
                return "no Sentinel named a primary for the master (check the Sentinels and the "
                       "master's name)";
            case redis_errc::cluster_redirect:
                return "Redis answered MOVED: it is a node of a Redis Cluster (use a "
                       "redis+cluster:// URL)";
        }
        return "unknown Redis error";
    }
};
#pragma GCC diagnostic pop

// "*N\r\n" or "$N\r\n".
void append_count(std::string& out, char kind, std::size_t n) {
    char buf[24];
    buf[0] = kind;
    char* end = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

// A RESP array of bulk strings: binary-safe, so keys and Lua scripts need no escaping.
// Sized once, then filled: commands carry audit payloads of a few hundred bytes, and growing
// the string piece by piece cost more than the formatting (callgrind, bench/profile.sh redis).
void append_command(std::string& out, const std::vector<std::string>& args) {
    std::size_t size = 16;
    for (const std::string& a : args)
        size += a.size() + 16;
    out.reserve(out.size() + size);
    append_count(out, '*', args.size());
    for (const std::string& a : args) {
        append_count(out, '$', a.size());
        out += a;
        out += "\r\n";
    }
}

const boost::system::error_category& redis_category() noexcept {
    static const redis_error_category category;
    return category;
}

boost::system::error_code make_error_code(redis_errc e) noexcept {
    return {static_cast<int>(e), redis_category()};
}

// Everything below runs on `ex` only, so nothing but the state and the counters (read by
// connected() and stats() from any thread) needs to be atomic.
struct redis_connection::impl : std::enable_shared_from_this<impl> {
    enum class phase : std::uint8_t { idle, connecting, connected, backoff, closed };

    /// One exec() or exec_pipeline(). Its timer is both the deadline and the wake-up: the
    /// reader cancels it once the replies are in, so the caller waits on one thing only.
    struct request {
        explicit request(const net::any_io_executor& ex) : timer(ex) {}
        std::string payload;
        std::size_t expected = 1;
        std::vector<redis_reply> replies;
        error_code error;
        bool done = false;     ///< completed, timed out or abandoned: no one else may touch it
        bool written = false;  ///< handed to the socket: a reply for it is due
        net::steady_timer timer;
    };
    using request_ptr = std::shared_ptr<request>;

    /// One TCP connection, under TLS when the URL says `rediss://`. A reconnect makes a new
    /// one, so the reader and writer of an old one see `alive == false` and stop without
    /// touching the new one's state.
    struct link {
        link(const net::any_io_executor& ex, net::ssl::context* ctx)
            : socket(ex), resolver(ex), wake(ex), deadline(ex), watch(ex) {
            if (ctx != nullptr) {
                tls = std::make_unique<tls_stream>(ex, *ctx);
            }
            wake.expires_at(net::steady_timer::time_point::max());
        }
        /// The TCP socket (under TLS, the one beneath it): connect it, close it.
        tcp::socket& tcp_socket() { return tls ? tls->next_layer() : socket; }
        void shut() {
            alive = false;
            if (auto p = probe.lock()) {
                p->shut();
            }
            error_code ignored;
            tcp_socket().close(ignored);
            resolver.cancel();
            wake.cancel();
            deadline.cancel();
            watch.cancel();
        }

        // Reads and writes go through TLS when there is one; both return the same awaitable
        // type, so no extra coroutine frame sits on the hot path.
        net::awaitable<std::tuple<error_code, std::size_t>> read_some() {
            if (tls) {
                return tls->async_read_some(net::buffer(buf), nothrow);
            }
            return socket.async_read_some(net::buffer(buf), nothrow);
        }
        net::awaitable<std::tuple<error_code, std::size_t>> write(const std::string& out) {
            if (tls) {
                return net::async_write(*tls, net::buffer(out), nothrow);
            }
            return net::async_write(socket, net::buffer(out), nothrow);
        }

        tcp::socket socket;  ///< the connection without TLS
        std::unique_ptr<tls_stream> tls;
        tcp::resolver resolver;
        net::steady_timer wake;          ///< canceled to wake the writer
        net::steady_timer deadline;      ///< of the connection attempt
        net::steady_timer watch;         ///< paces watch_primary()
        redis_endpoint peer;             ///< where the socket is connected
        std::weak_ptr<link> probe;       ///< the Sentinel watch's own link (redis+sentinel://)
        std::uint64_t step_gen = 0;      ///< ask_sentinels(): which step a timer belongs to
        bool step_hit = false;           ///< ask_sentinels(): this step's share ran out
        std::size_t sentinel_index = 0;  ///< the Sentinel that answered or is being asked
        resp_reader reader;
        std::array<char, 16 * 1024> buf{};
        bool alive = true;
        bool handshaking = true;
        bool deadline_hit = false;
    };
    using link_ptr = std::shared_ptr<link>;

    impl(net::any_io_executor e, redis_url u, redis_options o)
        : ex(std::move(e)),
          url(std::move(u)),
          opt(std::move(o)),
          backoff_timer(ex),
          rng(std::random_device{}()) {
        sentinel_next =
            opt.sentinel_next ? opt.sentinel_next : std::make_shared<std::atomic<std::size_t>>(0);
        if (url.tls && !opt.tls) {
            std::string error;
            opt.tls = make_redis_tls_context({}, error);
            if (!opt.tls) {
                throw std::runtime_error("Redis TLS: " + error);
            }
        }
    }

    // --- state changes ---------------------------------------------------------------

    void start_now() {
        if (state != phase::idle) {
            return;
        }
        state = phase::connecting;
        net::co_spawn(ex, supervise(shared_from_this()), net::detached);
    }

    void close_now() {
        if (state == phase::closed) {
            return;
        }
        state = phase::closed;
        backoff_timer.cancel();
        drop(net::error::operation_aborted);
    }

    /// Ends the current connection; everything queued or in flight fails with `pending`.
    void drop(error_code pending) {
        if (current) {
            current->shut();
            current.reset();
        }
        if (state != phase::closed) {
            state = phase::backoff;
        }
        fail_all(pending);
    }

    void complete(request& r, error_code ec) {
        if (r.done) {
            return;
        }
        r.done = true;
        r.error = ec;
        r.timer.cancel();
    }

    void fail_all(error_code ec) {
        // Moved out first: completing only posts the callers' resumption, but stay safe
        // against any re-entry into the queues.
        auto flying = std::exchange(in_flight, {});
        auto queued = std::exchange(write_queue, {});
        for (const request_ptr& r : flying) {
            complete(*r, ec);
        }
        for (const request_ptr& r : queued) {
            complete(*r, ec);
        }
    }

    /// Whether a new command may be queued; otherwise why not.
    error_code admit() {
        switch (state.load()) {
            case phase::closed:
                return net::error::operation_aborted;
            case phase::idle:
                start_now();
                return {};
            case phase::backoff:
                return down_error();
            case phase::connecting:
                // The first attempt, or the one right after a healthy connection, is worth
                // waiting for (within the deadline); a retry after failed attempts is not:
                // Redis is most likely still down, and against a host that drops packets
                // each attempt lasts the whole connect timeout.
                if (failures > 0) {
                    return down_error();
                }
                return {};
            case phase::connected:
                break;
        }
        return {};
    }

    /// The Sentinel to ask first, and moving past one that failed (redis+sentinel:// only).
    std::size_t sentinel_at() const {
        return sentinel_next->load(std::memory_order_relaxed) % url.sentinels.size();
    }
    /// Only if `at` is still the choice: a stale failure must not undo a newer one.
    void pass_sentinel(std::size_t at) {
        std::size_t expected = at;
        sentinel_next->compare_exchange_strong(expected, (at + 1) % url.sentinels.size(),
                                               std::memory_order_relaxed);
    }

    error_code down_error() const {
        // A wrong password or db is a configuration error: say so rather than a vague "not
        // connected", or the operator never learns why.
        if (last_error == make_error_code(redis_errc::auth_failed) ||
            last_error == make_error_code(redis_errc::select_failed)) {
            return last_error;
        }
        return net::error::not_connected;
    }

    void kick_writer() {
        if (current && state == phase::connected) {
            current->wake.cancel();
        }
    }

    std::chrono::milliseconds next_backoff() {
        const auto lo = std::max(opt.reconnect_min, std::chrono::milliseconds(1));
        const auto hi = std::max(opt.reconnect_max, lo);
        auto d = lo;
        for (unsigned i = 0; i < failures && d < hi; ++i) {
            d *= 2;
        }
        d = std::min(d, hi);
        failures = std::min(failures + 1, 64U);
        // Jitter, so replicas that lost Redis together do not reconnect in lockstep.
        std::uniform_int_distribution<long long> pick(d.count() / 2, d.count());
        return std::chrono::milliseconds(pick(rng));
    }

    // --- coroutines (static, owning `self`: the object outlives every one of them) -------

    static net::awaitable<void> supervise(std::shared_ptr<impl> self) {
        while (self->state != phase::closed) {
            self->state = phase::connecting;
            auto ln =
                std::make_shared<link>(self->ex, self->url.tls ? self->opt.tls.get() : nullptr);
            self->current = ln;
            error_code ec = co_await connect_link(self, ln);
            if (self->state == phase::closed) {
                co_return;
            }
            if (!ec) {
                self->state = phase::connected;
                self->connects.fetch_add(1, std::memory_order_relaxed);
                const auto up_since = std::chrono::steady_clock::now();
                net::co_spawn(self->ex, write_loop(self, ln), net::detached);
                if (!self->url.sentinels.empty()) {
                    net::co_spawn(self->ex, watch_primary(self, ln), net::detached);
                }
                ec = co_await read_loop(self, ln);
                if (self->state == phase::closed) {
                    co_return;
                }
                // Not alive: a timeout or the writer already dropped it, with its reason.
                if (ln->alive) {
                    self->last_error = ec;
                    self->drop(redis_errc::connection_lost);
                }
                // A connection that was up a while was healthy (the server closed an idle
                // client, a failover): retry at once. One that broke right away (a server at
                // maxclients accepts, then closes) counts as one more failed attempt.
                if (std::chrono::steady_clock::now() - up_since >= healthy_after) {
                    self->failures = 0;
                    continue;
                }
            } else {
                self->last_error = ec;
                self->drop(ec);
            }
            self->backoff_timer.expires_after(self->next_backoff());
            co_await self->backoff_timer.async_wait(nothrow);
        }
    }

    /// Resolve, connect, AUTH and SELECT, all under the connect deadline.
    static net::awaitable<error_code> connect_link(std::shared_ptr<impl> self, link_ptr ln) {
        co_return co_await under_deadline(self, ln, connect_steps(self, ln));
    }

    /// Runs `work`, a connection attempt on `ln`, under the connect deadline.
    static net::awaitable<error_code> under_deadline(std::shared_ptr<impl> self, link_ptr ln,
                                                     net::awaitable<error_code> work) {
        ln->handshaking = true;
        ln->deadline_hit = false;
        ln->deadline.expires_after(self->opt.connect_timeout);
        // Closing the socket aborts whichever step is running; a plain handler, as it must
        // fire while the coroutine is suspended.
        ln->deadline.async_wait([ln](const error_code& ec) {
            if (!ec && ln->alive && ln->handshaking) {
                ln->deadline_hit = true;
                error_code ignored;
                ln->tcp_socket().close(ignored);
                ln->resolver.cancel();
            }
        });
        error_code ec = co_await std::move(work);
        ln->handshaking = false;
        ln->deadline.cancel();
        if (ln->deadline_hit) {
            ec = net::error::timed_out;
        } else if (!ln->alive) {
            ec = net::error::operation_aborted;
        }
        co_return ec;
    }

    static net::awaitable<error_code> connect_steps(std::shared_ptr<impl> self, link_ptr ln) {
        redis_endpoint target{self->url.host, self->url.port};
        const bool sentinel = !self->url.sentinels.empty();
        if (sentinel) {
            const error_code asked = co_await ask_sentinels(self, ln, target);
            if (asked) {
                co_return asked;
            }
        }
        error_code ec = co_await primary_steps(self, ln, target);
        if (ec && sentinel) {
            // The node it named is gone or not a primary: that Sentinel may be stale, ask the
            // next one first next time.
            self->pass_sentinel(ln->sentinel_index);
        }
        co_return ec;
    }

    /// TCP connect to `target`, TLS, AUTH, SELECT (and ROLE behind Sentinel).
    static net::awaitable<error_code> primary_steps(std::shared_ptr<impl> self, link_ptr ln,
                                                    redis_endpoint target) {
        error_code ec = co_await tcp_connect(ln, target);
        if (ec) {
            co_return ec;
        }
        ln->peer = target;
        ln->tcp_socket().set_option(tcp::no_delay(true), ec);
        ln->tcp_socket().set_option(net::socket_base::keep_alive(true), ec);
        if (ln->tls) {
            // Before AUTH: the password only ever travels encrypted.
            ec = co_await tls_handshake(self, ln);
            if (ec) {
                co_return ec;
            }
        }
        ec = co_await handshake(self, ln);
        co_return ec;
    }

    /// While `ln` serves (redis+sentinel://), asks a Sentinel every 200 ms, on a connection
    /// kept for it, which node is the primary, and leaves `ln` when it is another one.
    /// Sentinel turns a reachable old primary into a replica only seconds after it promoted
    /// the new one; until then both accept writes, and what is written to the old one is lost
    /// (docs/redis.md, "Sentinel").
    static net::awaitable<void> watch_primary(std::shared_ptr<impl> self, link_ptr ln) {
        auto probe = std::make_shared<link>(self->ex, nullptr);
        ln->probe = probe;  // shut() with the link: close() does not wait for an ask
        while (ln->alive) {
            ln->watch.expires_after(sentinel_check_every);
            co_await ln->watch.async_wait(nothrow);
            if (!ln->alive) {
                break;
            }
            redis_endpoint found;
            error_code ec = co_await under_deadline(self, probe, ask_watched(self, probe, found));
            if (!ec && !same(found, ln->peer) && self->url.sentinels.size() > 1 && ln->alive) {
                // One Sentinel may lag or be cut off from the others: a second one must agree
                // before a working link is left.
                redis_endpoint second;
                ec = co_await under_deadline(self, probe, ask_watched(self, probe, second, true));
                if (!ec && !same(second, found)) {
                    continue;
                }
            }
            if (ec) {
                // No answer: keep the link (an outage of the Sentinels is not one of Redis).
                continue;
            }
            if (!ln->alive || same(found, ln->peer)) {
                continue;
            }
            self->last_error = redis_errc::not_ready;
            self->drop(redis_errc::connection_lost);
            break;
        }
        probe->shut();
    }

    static bool same(const redis_endpoint& a, const redis_endpoint& b) {
        return a.host == b.host && a.port == b.port;
    }

    /// One question on the watch's connection, made first if need be (to the next Sentinel
    /// when `next`). Any failure closes it and moves on to the next Sentinel for next time.
    static net::awaitable<error_code> ask_watched(std::shared_ptr<impl> self, link_ptr probe,
                                                  redis_endpoint& found, bool next = false) {
        const auto& list = self->url.sentinels;
        error_code ignored;
        if (next) {
            // Another opinion: the Sentinel after the one this probe asked, whatever the
            // shared choice says now.
            probe->socket.close(ignored);
            probe->sentinel_index = (probe->sentinel_index + 1) % list.size();
        } else if (!probe->socket.is_open()) {
            probe->sentinel_index = self->sentinel_at();
        }
        error_code ec;
        if (!probe->socket.is_open()) {
            ec = co_await tcp_connect(probe, list[probe->sentinel_index]);
        }
        if (!ec) {
            ec = co_await ask_sentinel(self, probe, found);
        }
        if (ec) {
            probe->socket.close(ignored);
            self->pass_sentinel(probe->sentinel_index);
        }
        co_return ec;
    }

    /// Resolves `target` and connects the link's TCP socket to it.
    static net::awaitable<error_code> tcp_connect(link_ptr ln, redis_endpoint target) {
        std::vector<tcp::endpoint> endpoints;
        error_code ec;
        const auto address = net::ip::make_address(target.host, ec);
        if (!ec) {
            endpoints.emplace_back(address, target.port);
        } else {
            auto [rec, results] = co_await ln->resolver.async_resolve(
                target.host, std::to_string(target.port), nothrow);
            if (rec) {
                co_return rec;
            }
            for (const auto& entry : results) {
                endpoints.push_back(entry.endpoint());
            }
        }
        // The range connect reopens the socket for the next address, so it has to be told
        // to stop once the deadline closed it.
        auto keep_trying = [ln](const error_code&, const tcp::endpoint&) {
            return ln->alive && !ln->deadline_hit;
        };
        auto [cec, endpoint] =
            co_await net::async_connect(ln->tcp_socket(), endpoints, keep_trying, nothrow);
        co_return cec;
    }

    /// redis+sentinel:// (docs/redis.md, "Sentinel"): asks the Sentinels in turn, starting with
    /// the one that answered last, for the primary's address; each attempt runs on the link's
    /// socket, under the connection's deadline.
    static net::awaitable<error_code> ask_sentinels(std::shared_ptr<impl> self, link_ptr ln,
                                                    redis_endpoint& found) {
        const auto& list = self->url.sentinels;
        error_code last = redis_errc::no_primary;
        // Each Sentinel gets a share of the deadline, leaving one for the primary: one that
        // accepts and never answers (stopped, or behind a black hole) must not take it all.
        const auto share = self->opt.connect_timeout / static_cast<long>(list.size() + 1);
        net::steady_timer step(self->ex);
        // Read once: other connections move the shared choice while this one asks.
        const std::size_t first = self->sentinel_at();
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::size_t at = (first + i) % list.size();
            const std::uint64_t gen = ++ln->step_gen;
            ln->step_hit = false;
            step.expires_after(share);
            step.async_wait([ln, gen](const error_code& ec) {
                if (!ec && ln->alive && ln->step_gen == gen) {
                    ln->step_hit = true;
                    error_code ignored;
                    ln->socket.close(ignored);
                    ln->resolver.cancel();
                }
            });
            error_code ec = co_await tcp_connect(ln, list[at]);
            if (!ec) {
                ec = co_await ask_sentinel(self, ln, found);
            }
            ++ln->step_gen;  // a step timer that fires late leaves the next step alone
            step.cancel();
            error_code ignored;
            ln->socket.close(ignored);
            if (!ec) {
                ln->sentinel_index = at;
                co_return error_code{};
            }
            if (ln->step_hit) {
                ec = net::error::timed_out;  // not the operation_aborted of a closed socket
            }
            // Next time (and next in this loop), the Sentinel after the one that failed.
            self->pass_sentinel(at);
            if (!ln->alive || ln->deadline_hit) {
                co_return net::error::timed_out;
            }
            last = ec;
        }
        co_return last;
    }

    static net::awaitable<error_code> ask_sentinel(std::shared_ptr<impl> self, link_ptr ln,
                                                   redis_endpoint& found) {
        const redis_url& url = self->url;
        std::string out;
        std::size_t n = 1;
        if (!url.password.empty()) {
            append_command(out, auth_command(url));
            ++n;
        }
        const std::vector<std::string> ask{"SENTINEL", "get-master-addr-by-name", url.master_name};
        append_command(out, ask);
        auto [wec, written] = co_await ln->write(out);
        if (wec) {
            co_return wec;
        }
        // A reader of its own: the link's starts clean for the primary.
        resp_reader reader;
        replies_read got = co_await read_replies(ln, reader, n);
        if (got.error) {
            co_return got.error;
        }
        // The URL's credentials are the data nodes'. Sentinels often share them (Bitnami's
        // chart does); one without a password refuses AUTH, and is asked all the same.
        if (n == 2 && !got.replies[0].is_ok() &&
            got.replies[0].str.find("without any password configured") == std::string::npos) {
            co_return make_error_code(redis_errc::auth_failed);
        }
        const redis_reply& addr = got.replies[n - 1];
        if (!addr.is_array() || addr.elements.size() != 2) {
            co_return make_error_code(redis_errc::no_primary);
        }
        const auto port = addr.elements[1].as_int();
        if (!port || *port < 1 || *port > 65535 || addr.elements[0].str.empty()) {
            co_return make_error_code(redis_errc::no_primary);
        }
        found.host = addr.elements[0].str;
        found.port = static_cast<std::uint16_t>(*port);
        co_return error_code{};
    }

    static std::vector<std::string> auth_command(const redis_url& url) {
        std::vector<std::string> auth{"AUTH"};
        if (!url.user.empty()) {
            auth.push_back(url.user);
        }
        auth.push_back(url.password);
        return auth;
    }

    /// SNI and the host name checked against the certificate (an IP literal against its IP
    /// SANs), as the upstream client does (docs/redis.md, "TLS").
    static net::awaitable<error_code> tls_handshake(std::shared_ptr<impl> self, link_ptr ln) {
        SSL* ssl = ln->tls->native_handle();
        const std::string& host = self->url.tls_name.empty() ? self->url.host : self->url.tls_name;
        error_code ip_ec;
        net::ip::make_address(host, ip_ec);
        if (ip_ec) {
            SSL_set_tlsext_host_name(ssl, host.c_str());
        }
        SSL_set1_host(ssl, host.c_str());
        auto [ec] = co_await ln->tls->async_handshake(net::ssl::stream_base::client, nothrow);
        co_return ec;
    }

    static net::awaitable<error_code> handshake(std::shared_ptr<impl> self, link_ptr ln) {
        const redis_url& url = self->url;
        std::string out;
        std::size_t n = 0;
        if (!url.password.empty()) {
            append_command(out, auth_command(url));
            ++n;
        }
        if (url.db != 0) {
            const std::vector<std::string> select_db{"SELECT", std::to_string(url.db)};
            append_command(out, select_db);
            ++n;
        }
        // What a Sentinel names may already be stale (a fail-over under way): check the role.
        const bool check_role = !url.sentinels.empty();
        if (check_role) {
            const std::vector<std::string> role{"ROLE"};
            append_command(out, role);
            ++n;
        }
        if (n == 0) {
            co_return error_code{};
        }
        auto [wec, written] = co_await ln->write(out);
        if (wec) {
            co_return wec;
        }
        replies_read got = co_await read_replies(ln, ln->reader, n);
        if (got.error) {
            co_return got.error;
        }
        std::size_t i = 0;
        if (!url.password.empty() && !got.replies[i++].is_ok()) {
            co_return make_error_code(redis_errc::auth_failed);
        }
        if (url.db != 0 && !got.replies[i++].is_ok()) {
            co_return make_error_code(redis_errc::select_failed);
        }
        if (check_role) {
            const redis_reply& role = got.replies[i];
            if (!role.is_array() || role.elements.empty() || role.elements[0].str != "master") {
                co_return make_error_code(redis_errc::not_ready);
            }
        }
        co_return error_code{};
    }

    struct replies_read {
        error_code error;
        std::vector<redis_reply> replies;
    };

    static net::awaitable<replies_read> read_replies(link_ptr ln, resp_reader& reader,
                                                     std::size_t n) {
        replies_read r;
        while (r.replies.size() < n) {
            redis_reply reply;
            const auto p = reader.next(reply);
            if (p == resp_reader::pull::bad) {
                r.error = redis_errc::protocol_error;
                co_return r;
            }
            if (p == resp_reader::pull::reply) {
                r.replies.push_back(std::move(reply));
                continue;
            }
            auto [ec, len] = co_await ln->read_some();
            if (ec) {
                r.error = ec;
                co_return r;
            }
            if (!reader.feed(ln->buf.data(), len)) {
                r.error = redis_errc::protocol_error;
                co_return r;
            }
        }
        co_return r;
    }

    /// Hands replies to the in-flight requests in order; returns why the connection ended.
    static net::awaitable<error_code> read_loop(std::shared_ptr<impl> self, link_ptr ln) {
        for (;;) {
            auto [ec, len] = co_await ln->read_some();
            if (!ln->alive) {
                co_return net::error::operation_aborted;
            }
            if (ec) {
                co_return ec;
            }
            if (!ln->reader.feed(ln->buf.data(), len)) {
                co_return redis_errc::protocol_error;
            }
            for (;;) {
                redis_reply reply;
                const auto p = ln->reader.next(reply);
                if (p == resp_reader::pull::need_more) {
                    break;
                }
                if (p == resp_reader::pull::bad || self->in_flight.empty()) {
                    co_return redis_errc::protocol_error;
                }
                // A primary demoted to a replica (a fail-over: Sentinel, or a DNS name such as
                // ElastiCache's primary endpoint now pointing elsewhere) answers READONLY to
                // every write: reconnect, which asks the Sentinels or the DNS again.
                const bool demoted = reply.is_error() && reply.str.starts_with("READONLY");
                // An abandoned request (its caller was cancelled) still takes its replies,
                // which keeps the stream in step; complete() then ignores it.
                request& front = *self->in_flight.front();
                front.replies.push_back(std::move(reply));
                if (front.replies.size() == front.expected) {
                    self->complete(front, {});
                    self->in_flight.pop_front();
                }
                if (demoted) {
                    co_return make_error_code(redis_errc::not_ready);
                }
            }
        }
    }

    /// Writes everything queued so far in one write, then waits for more.
    static net::awaitable<void> write_loop(std::shared_ptr<impl> self, link_ptr ln) {
        std::string out;
        while (ln->alive) {
            if (self->write_queue.empty()) {
                co_await ln->wake.async_wait(nothrow);
                continue;
            }
            out.clear();
            while (!self->write_queue.empty()) {
                request_ptr r = std::move(self->write_queue.front());
                self->write_queue.pop_front();
                if (r->done) {
                    continue;  // timed out or abandoned before it was sent: never send it
                }
                r->written = true;
                out += r->payload;
                r->payload = std::string();
                // In flight before the write completes: replies can arrive before this
                // coroutine resumes.
                self->in_flight.push_back(std::move(r));
            }
            if (out.empty()) {
                continue;
            }
            self->writes.fetch_add(1, std::memory_order_relaxed);
            auto [ec, n] = co_await ln->write(out);
            if (!ln->alive) {
                co_return;
            }
            if (ec) {
                self->last_error = ec;
                self->drop(redis_errc::connection_lost);
                co_return;
            }
            if (out.capacity() > max_kept_buffer) {
                std::string().swap(out);  // one burst should not pin its size for good
            }
        }
    }

    static net::awaitable<redis_pipeline_result> run(std::shared_ptr<impl> self,
                                                     std::string payload, std::size_t expected,
                                                     redis_deadline until) {
        redis_pipeline_result result;
        if (const error_code refused = self->admit(); refused) {
            result.error = refused;
            co_return result;
        }
        auto req = std::make_shared<request>(self->ex);
        req->payload = std::move(payload);
        req->expected = expected;
        if (until == redis_deadline{})
            req->timer.expires_after(self->opt.command_timeout);
        else
            req->timer.expires_at(until);
        self->write_queue.push_back(req);
        self->commands.fetch_add(1, std::memory_order_relaxed);
        self->kick_writer();

        auto [ec] = co_await req->timer.async_wait(nothrow);
        if (req->done) {
            result.error = req->error;
            result.replies = std::move(req->replies);
            co_return result;
        }
        // Not completed: either the deadline passed or the caller's coroutine was cancelled
        // (then the wait ends with operation_aborted although nobody completed it). Marked
        // done, an unsent request is skipped by the writer; a sent one still takes its reply
        // off the stream when it comes.
        req->done = true;
        const bool cancelled = ec == net::error::operation_aborted;
        if (req->written && !cancelled) {
            // Written but unanswered: Redis is stuck or the link is dead, and the next reply
            // would belong to this request. Start over on a new connection.
            self->last_error = net::error::timed_out;
            self->drop(redis_errc::connection_lost);
        }
        if (cancelled) {
            result.error = net::error::operation_aborted;
        } else {
            self->timeouts.fetch_add(1, std::memory_order_relaxed);
            result.error = net::error::timed_out;
        }
        co_return result;
    }

    static net::awaitable<redis_result> exec_one(std::shared_ptr<impl> self,
                                                 std::vector<std::string> args,
                                                 redis_deadline until) {
        redis_result out;
        if (args.empty()) {
            out.error = net::error::invalid_argument;
            co_return out;
        }
        std::string payload;
        append_command(payload, args);
        co_return co_await exec_formatted(std::move(self), std::move(payload), until);
    }

    static net::awaitable<redis_result> exec_formatted(std::shared_ptr<impl> self,
                                                       std::string payload, redis_deadline until) {
        redis_result out;
        redis_pipeline_result r = co_await run(self, std::move(payload), 1, until);
        out.error = r.error;
        if (!r.error) {
            out.reply = std::move(r.replies.front());
        }
        co_return out;
    }

    static net::awaitable<redis_pipeline_result> exec_many(
        std::shared_ptr<impl> self, std::vector<std::vector<std::string>> commands,
        redis_deadline until) {
        redis_pipeline_result out;
        if (commands.empty()) {
            co_return out;
        }
        std::string payload;
        for (const auto& c : commands) {
            if (c.empty()) {
                out.error = net::error::invalid_argument;
                co_return out;
            }
            append_command(payload, c);
        }
        out = co_await run(self, std::move(payload), commands.size(), until);
        co_return out;
    }

    static net::awaitable<bool> ping(std::shared_ptr<impl> self) {
        // A named vector: GCC 12 rejects a braced list as a coroutine argument.
        std::vector<std::string> args{"PING"};
        redis_result r = co_await exec_one(self, std::move(args), redis_deadline{});
        co_return !r.error && r.reply.is_status() && r.reply.str == "PONG";
    }

    net::any_io_executor ex;
    redis_url url;
    redis_options opt;
    std::atomic<phase> state{phase::idle};
    link_ptr current;
    std::deque<request_ptr> write_queue;  ///< not written yet
    std::deque<request_ptr> in_flight;    ///< written, replies due in this order
    net::steady_timer backoff_timer;
    error_code last_error;
    unsigned failures = 0;
    /// The Sentinel to ask first; shared by the connections of a store (redis_options), so one
    /// that hangs costs a single connection its share of the deadline, not each of them.
    std::shared_ptr<std::atomic<std::size_t>> sentinel_next;
    std::minstd_rand rng;
    std::atomic<std::uint64_t> connects{0};
    std::atomic<std::uint64_t> commands{0};
    std::atomic<std::uint64_t> writes{0};
    std::atomic<std::uint64_t> timeouts{0};
};

std::shared_ptr<redis_connection> redis_connection::create(boost::asio::any_io_executor ex,
                                                           redis_url url, redis_options opt) {
    auto state = std::make_shared<impl>(std::move(ex), std::move(url), opt);
    return std::shared_ptr<redis_connection>(new redis_connection(std::move(state)));
}

redis_connection::redis_connection(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

redis_connection::~redis_connection() {
    close();
}

void redis_connection::start() {
    net::dispatch(impl_->ex, [self = impl_] { self->start_now(); });
}

void redis_connection::close() {
    net::dispatch(impl_->ex, [self = impl_] { self->close_now(); });
}

net::awaitable<redis_result> redis_connection::exec(std::vector<std::string> args,
                                                    redis_deadline until) {
    return impl::exec_one(impl_, std::move(args), until);
}

net::awaitable<redis_result> redis_connection::exec_formatted(std::string payload,
                                                              redis_deadline until) {
    return impl::exec_formatted(impl_, std::move(payload), until);
}

net::awaitable<redis_pipeline_result> redis_connection::exec_formatted_pipeline(
    std::string payload, std::size_t count, redis_deadline until) {
    return impl::run(impl_, std::move(payload), count, until);
}

net::awaitable<redis_pipeline_result> redis_connection::exec_pipeline(
    std::vector<std::vector<std::string>> commands, redis_deadline until) {
    return impl::exec_many(impl_, std::move(commands), until);
}

net::awaitable<bool> redis_connection::ping() {
    return impl::ping(impl_);
}

bool redis_connection::connected() const {
    return impl_->state == impl::phase::connected;
}

boost::system::error_code redis_connection::last_error() const {
    return impl_->last_error;
}

redis_stats redis_connection::stats() const {
    redis_stats s;
    s.connects = impl_->connects.load(std::memory_order_relaxed);
    s.commands = impl_->commands.load(std::memory_order_relaxed);
    s.writes = impl_->writes.load(std::memory_order_relaxed);
    s.timeouts = impl_->timeouts.load(std::memory_order_relaxed);
    return s;
}

const boost::asio::any_io_executor& redis_connection::get_executor() const {
    return impl_->ex;
}

}  // namespace ditto::store::redis
