#include "ditto/trace/exporter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <stdexcept>

#include "ditto/log/log.hpp"
#include "ditto/upstream/client.hpp"
#include "ditto/upstream/url.hpp"

namespace ditto::trace {

namespace net = boost::asio;

struct otlp_exporter::impl {
    exporter_options options;
    std::string path;
    net::any_io_executor ex;
    std::unique_ptr<upstream::backend> collector;
    std::unique_ptr<upstream::pool> pool;  ///< used on `ex` only
    net::steady_timer timer;

    std::mutex mutex;  ///< guards the queue and `wake_pending`; held for a push or a swap
    std::vector<std::shared_ptr<pending_trace>> queue;
    std::size_t queued_spans = 0;
    bool wake_pending = false;
    std::atomic<bool> stopped{false};

    std::atomic<std::uint64_t> exported{0}, dropped_full{0}, dropped_failed{0};
    std::optional<std::chrono::steady_clock::time_point> last_warning;
    /// After a failed export, batches are dropped unencoded until then: a collector that is
    /// down costs the gateway no encoding and no connection attempt per batch.
    std::chrono::steady_clock::time_point quiet_until{};

    impl(exporter_options o, net::any_io_executor e) : options(std::move(o)), ex(e), timer(e) {}
};

namespace {

constexpr auto retry_after_failure = std::chrono::seconds(5);

net::awaitable<void> send(std::shared_ptr<otlp_exporter::impl> s,
                          std::span<const std::shared_ptr<pending_trace>> batch,
                          std::size_t spans) {
    const auto body = encode_otlp_json(s->options.resource, batch);
    http::request req{http::bhttp::verb::post, s->path, 11};
    req.set(http::field::content_type, "application/json");
    auto out = upstream::build_outgoing(req, *s->collector, s->path, "", body, "");
    out.msg.erase("x-request-id");
    auto r = co_await upstream::exchange(*s->pool, out, 64 * 1024, s->options.timeout);
    std::string problem;
    if (r.failure != upstream::failure_kind::none)
        problem = r.error;
    else if (r.response.msg.result_int() / 100 != 2)
        problem = "collector answered " + std::to_string(r.response.msg.result_int());
    if (problem.empty()) {
        s->exported += spans;
        co_return;
    }
    s->dropped_failed += spans;
    const auto now = std::chrono::steady_clock::now();
    s->quiet_until = now + retry_after_failure;
    // One warning a minute at most: a collector that is down must not flood the log.
    if (!s->last_warning || now - *s->last_warning >= std::chrono::minutes(1)) {
        s->last_warning = now;
        log::warn("trace.export_failed", "spans dropped: the OTLP collector did not take them",
                  {{"reason", problem}, {"spans", std::to_string(spans)}});
    }
}

// The whole queue, swapped out under the lock (requests are held for a swap, never for a
// copy); with `full_only`, only once a whole batch is waiting.
std::vector<std::shared_ptr<pending_trace>> take(otlp_exporter::impl& s, bool full_only) {
    std::vector<std::shared_ptr<pending_trace>> all;
    std::lock_guard lock(s.mutex);
    s.wake_pending = false;
    if (full_only && s.queued_spans < s.options.max_batch_spans)
        return all;
    all.swap(s.queue);
    s.queue.reserve(all.size());  // the next round's room at once, not by doubling
    s.queued_spans = 0;
    return all;
}

// A whole batch is queued; if not, the next one that is will wake the loop (a plain function:
// no lock in a coroutine frame).
bool batch_ready(otlp_exporter::impl& s) {
    std::lock_guard lock(s.mutex);
    const bool ready = s.queued_spans >= s.options.max_batch_spans;
    if (!ready)
        s.wake_pending = false;
    return ready;
}

net::awaitable<void> loop(std::shared_ptr<otlp_exporter::impl> s) {
    auto tick = std::chrono::steady_clock::now() + s->options.interval;
    while (true) {
        const bool last = s->stopped;
        // A whole batch queued while the last one was being sent: its wake-up (a cancel) found
        // no wait to cancel, so it is looked for here, in the same handler as the wait below.
        const bool ready = batch_ready(*s);
        if (!last && !ready) {
            // Woken early (the timer cancelled) when a whole batch is queued.
            s->timer.expires_at(tick);
            boost::system::error_code ec;
            co_await s->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        // Whole batches go at once; a partial one waits for the tick, so that a busy gateway
        // sends few large POSTs rather than many small ones.
        const auto now = std::chrono::steady_clock::now();
        const bool on_tick = last || now >= tick;
        if (on_tick)
            tick = now + s->options.interval;
        const auto all = take(*s, !on_tick);
        // Cut into POSTs of at most max_batch_spans spans each.
        std::size_t begin = 0;
        while (begin < all.size()) {
            std::size_t end = begin, spans = 0;
            while (end < all.size() && spans < s->options.max_batch_spans)
                spans += 1 + all[end++]->children.size();
            const std::span<const std::shared_ptr<pending_trace>> batch(all.data() + begin,
                                                                        end - begin);
            begin = end;
            if (std::chrono::steady_clock::now() < s->quiet_until) {
                s->dropped_failed += spans;
                continue;
            }
            co_await send(s, batch, spans);
        }
        if (last)
            break;
    }
    // An idle pooled connection keeps a watchdog armed, which would hold the background
    // thread until its grace at exit: closed with the pool once nothing more is sent.
    s->pool.reset();
}

}  // namespace

std::string otlp_traces_path(std::string_view endpoint) {
    auto url = upstream::parse_base_url(endpoint);
    if (!url)
        return {};
    return url->path.empty() ? "/v1/traces" : url->path;
}

otlp_exporter::otlp_exporter(exporter_options options, net::any_io_executor ex)
    : impl_(std::make_shared<impl>(std::move(options), ex)) {
    auto url = upstream::parse_base_url(impl_->options.endpoint);
    if (!url)
        throw std::invalid_argument("--otel-endpoint must be an http:// or https:// URL");
    impl_->path = otlp_traces_path(impl_->options.endpoint);
    config::backend_config b;
    b.name = "otel-collector";
    b.base_url = (url->tls ? "https://" : "http://") +
                 (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
                 ":" + std::to_string(url->port);
    b.timeout_seconds = static_cast<std::uint64_t>(std::max<std::int64_t>(
        1, std::chrono::ceil<std::chrono::seconds>(impl_->options.timeout).count()));
    for (const auto& [k, v] : impl_->options.headers)
        b.headers[k] = v;
    impl_->collector = std::make_unique<upstream::backend>(b);
    impl_->pool = std::make_unique<upstream::pool>(*impl_->collector);
}

otlp_exporter::~otlp_exporter() {
    stop();
}

void otlp_exporter::submit(std::shared_ptr<pending_trace> t) noexcept {
    auto& s = *impl_;
    const std::size_t spans = 1 + t->children.size();
    bool wake = false;
    {
        std::lock_guard lock(s.mutex);
        if (s.queued_spans + spans > s.options.max_queue_spans) {
            s.dropped_full += spans;
            return;
        }
        try {
            s.queue.push_back(std::move(t));
        } catch (...) {
            s.dropped_full += spans;
            return;
        }
        s.queued_spans += spans;
        if (s.queued_spans >= s.options.max_batch_spans && !s.wake_pending) {
            s.wake_pending = true;
            wake = true;
        }
    }
    // A full batch goes now rather than at the next tick; the timer is the executor's.
    if (wake) {
        auto keep = impl_;
        net::post(s.ex, [keep] { keep->timer.cancel(); });
    }
}

void otlp_exporter::start() {
    net::co_spawn(impl_->ex, loop(impl_), net::detached);
}

void otlp_exporter::stop() {
    if (impl_->stopped.exchange(true))
        return;
    auto keep = impl_;
    net::post(impl_->ex, [keep] { keep->timer.cancel(); });
}

exporter_stats otlp_exporter::stats() const {
    return {impl_->exported.load(), impl_->dropped_full.load(), impl_->dropped_failed.load()};
}

}  // namespace ditto::trace
