#pragma once

// A socket with one deadline per connection (docs/http-server.md, "Deadlines"): instead of a
// timer armed and cancelled around every read and write (what beast::tcp_stream does), each
// operation stamps a deadline, and one watchdog timer per connection closes the socket once
// the deadline has passed. Used by the server for client connections and by the upstream
// client under its plain and TLS connections (an ssl_stream is layered over it).
//
// The watchdog is lazy: it wakes at the earlier of the deadline and `tick` after it was last
// armed, and re-arms itself to the current deadline only then. A stamp moves the timer only
// when it asks for an earlier time than the timer's; `tick` is the shortest timeout the owner
// stamps, so on the request path no stamp ever does.
//
// A deadline stays in force after the operation it was stamped for: whoever then waits for
// something else (the handler, the other side of a relay, the pool) stamps `expires_never()`.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <utility>

namespace ditto::http {

class watched_stream {
  public:
    using socket_type = boost::asio::ip::tcp::socket;
    using executor_type = socket_type::executor_type;
    using lowest_layer_type = socket_type::lowest_layer_type;  // for asio::ssl::stream
    using clock = std::chrono::steady_clock;

    /// One argument, so that an ssl_stream can construct its next layer from a socket.
    explicit watched_stream(socket_type socket, clock::duration tick = std::chrono::seconds(1))
        : socket_(std::move(socket)),
          state_(std::make_shared<state>(socket_.get_executor(), &socket_, tick)) {}
    ~watched_stream() {
        state_->socket = nullptr;
        state_->timer.cancel();
    }
    watched_stream(const watched_stream&) = delete;
    watched_stream& operator=(const watched_stream&) = delete;

    executor_type get_executor() { return socket_.get_executor(); }
    socket_type& socket() { return socket_; }
    lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }

    /// The watchdog's period when nothing is stamped earlier (see above).
    void tick(clock::duration t) { state_->tick = t; }

    /// The operations from now until the next stamp must end within `d`, or the connection
    /// is closed (they then complete with an error, and timed_out() is true).
    void expires_after(clock::duration d) { expires_at(clock::now() + d); }
    void expires_at(clock::time_point at) {
        state_->deadline = at;
        if (at < state_->armed)
            arm(state_, std::min(at, clock::now() + state_->tick));
    }
    /// No deadline until the next stamp.
    void expires_never() { state_->deadline = clock::time_point::max(); }
    /// Whether the watchdog closed the socket: an operation's error then means a timeout.
    bool timed_out() const { return state_->timed_out; }

    /// Ends the operations in progress with operation_aborted (a drain closing idle ones).
    void cancel() {
        boost::system::error_code ignored;
        socket_.cancel(ignored);
    }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& b, Token&& t) {
        return socket_.async_read_some(b, std::forward<Token>(t));
    }
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& b, Token&& t) {
        return socket_.async_write_some(b, std::forward<Token>(t));
    }

  private:
    struct state {
        state(const executor_type& ex, socket_type* s, clock::duration t)
            : timer(ex), socket(s), tick(t) {}
        boost::asio::steady_timer timer;
        socket_type* socket;  ///< null once the stream is gone
        clock::duration tick;
        clock::time_point deadline = clock::time_point::max();
        clock::time_point armed = clock::time_point::max();  ///< max: not waiting
        bool timed_out = false;
    };

    // Not a coroutine: a plain completion handler that owns the state it watches.
    static void arm(const std::shared_ptr<state>& st, clock::time_point at) {
        st->armed = at;
        st->timer.expires_at(at);  // cancels a wait in progress: its handler sees aborted
        st->timer.async_wait([st](const boost::system::error_code& ec) { fired(st, ec); });
    }

    static void fired(const std::shared_ptr<state>& st, const boost::system::error_code& ec) {
        if (ec == boost::asio::error::operation_aborted || st->socket == nullptr)
            return;  // re-armed earlier (a new wait is on), or the connection is gone
        const auto now = clock::now();
        if (now >= st->deadline) {
            boost::system::error_code ignored;
            st->timed_out = true;
            st->socket->close(ignored);
            st->armed = clock::time_point::max();
            return;
        }
        if (st->deadline == clock::time_point::max()) {
            st->armed = clock::time_point::max();  // nothing to watch until the next stamp
            return;
        }
        arm(st, std::min(st->deadline, now + st->tick));
    }

    socket_type socket_;
    std::shared_ptr<state> state_;
};

}  // namespace ditto::http
