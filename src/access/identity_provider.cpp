#include "ditto/access/identity_provider.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "ditto/config/access_settings.hpp"
#include "ditto/log/log.hpp"
#include "ditto/upstream/client.hpp"
#include "ditto/upstream/url.hpp"

namespace ditto::access {

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

std::int64_t unix_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::atomic<std::uint64_t> next_instance{1};

constexpr std::uint64_t max_document_bytes = 1 << 20;
constexpr std::size_t max_remembered_tokens = 4096;  ///< per worker and issuer
constexpr int max_waiters = 256;                     ///< requests waiting for a fetch

}  // namespace

struct identity_provider::impl {
    std::string name;
    config::issuer_config idp;
    verify_options checks;
    net::any_io_executor ex;
    net::steady_timer timer;
    const std::uint64_t instance = next_instance++;

    mutable std::mutex mu;  ///< guards keys, discovered
    std::shared_ptr<const key_set> keys;
    std::string keys_text;  ///< the JWKS the keys came from (bg only)
    std::optional<discovery_info> discovered;
    /// Changes with the key set: a remembered token is judged again after a change.
    std::atomic<std::uint64_t> generation{0};
    std::atomic<std::uint64_t> fetches_done{0};  ///< completed fetches, ok or not
    std::atomic<bool> fetching{false};
    std::atomic<bool> wake_asked{false};
    std::atomic<std::int64_t> last_fetch_start_ms{0};  ///< steady
    /// Steady ms before which no fetch starts: jwks_min_refetch_seconds after the last one, or
    /// the backoff after a failure (which requests cannot cut short).
    std::atomic<std::int64_t> next_allowed_ms{0};
    std::atomic<int> waiters{0};  ///< requests waiting for a fetch
    std::atomic<std::uint64_t> fetches_ok{0}, fetches_failed{0};
    std::atomic<std::int64_t> last_success_ms{0};
    std::atomic<bool> stopped{false};
    std::optional<std::chrono::steady_clock::time_point> last_warning;

    /// Connections per origin (the issuer's and the JWKS's may differ), on `ex` only.
    struct origin {
        std::unique_ptr<upstream::backend> backend;
        std::unique_ptr<upstream::pool> pool;
    };
    std::map<std::string, origin> origins;

    impl(std::string n, config::issuer_config c, net::any_io_executor e)
        : name(std::move(n)), idp(std::move(c)), ex(e), timer(e) {
        checks.issuer = idp.issuer;
        checks.audiences = idp.audiences;
        checks.algorithms = idp.algorithms;
        checks.leeway_seconds = idp.leeway_seconds;
    }

    std::shared_ptr<const key_set> current() const {
        std::lock_guard lock(mu);
        return keys;
    }

    // Asks the loop for a fetch: now, or once jwks_min_refetch_seconds have passed since the
    // last one when that is within the deadline a request waits. True when a fetch is
    // running or will run within that deadline.
    bool ask_refetch(const std::shared_ptr<impl>& self) {
        if (fetching.load()) {
            // It may have begun before the key was published: one more once it is allowed.
            wake_asked = true;
            return true;
        }
        const auto wait = next_allowed_ms.load() - steady_ms();
        if (wait > static_cast<std::int64_t>(idp.jwks_timeout_ms))
            return false;  // fetched moments ago, or backing off: an unknown kid fails closed
        if (!wake_asked.exchange(true))
            net::post(ex, [self] { self->timer.cancel(); });
        return true;
    }
};

namespace {

using impl = identity_provider::impl;

// The tokens this worker has verified, per issuer (a handful at most per thread).
struct remembered {
    std::uint64_t instance = 0;
    std::uint64_t generation = 0;
    std::unordered_map<std::string, std::shared_ptr<const verified_token>> tokens;
};

remembered& memory_of(const impl& s) {
    thread_local std::vector<remembered> all;
    for (auto& r : all) {
        if (r.instance == s.instance)
            return r;
    }
    all.emplace_back().instance = s.instance;
    return all.back();
}

// `scheme://authority` and the target as written (path and query, `/` when none; a fragment
// dropped): B2C's JWKS URLs carry their policy in the query.
std::pair<std::string, std::string> split_target(const std::string& url) {
    const auto scheme = url.find("://");
    const auto start = url.find_first_of("/?#", scheme == std::string::npos ? 0 : scheme + 3);
    if (start == std::string::npos)
        return {url, "/"};
    std::string target = url.substr(start, url.find('#', start) - start);
    if (target.empty() || target.front() != '/')
        target.insert(0, "/");
    return {url.substr(0, start), target};
}

std::string origin_of(const upstream::base_url& u) {
    return (u.tls ? "https://" : "http://") +
           (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":" +
           std::to_string(u.port);
}

// GET `url` within the timeout, at most 1 MiB; the body, or nullopt with `error`.
net::awaitable<std::optional<std::string>> fetch(std::shared_ptr<impl> s, std::string url,
                                                 std::string& error) {
    const auto split = split_target(url);  // not a structured binding: a coroutine frame
    const std::string& target = split.second;
    auto parsed = upstream::parse_base_url(split.first);
    if (!parsed) {
        error = "not an http(s) URL: " + url;
        co_return std::nullopt;
    }
    const auto key = origin_of(*parsed);
    auto it = s->origins.find(key);
    if (it == s->origins.end()) {
        config::backend_config b;
        b.name = "idp-" + s->name;
        b.base_url = key;
        b.timeout_seconds = std::max<std::uint64_t>(1, (s->idp.jwks_timeout_ms + 999) / 1000);
        b.tls_ca_file = s->idp.tls_ca_file;
        impl::origin o;
        try {
            o.backend = std::make_unique<upstream::backend>(b);
        } catch (const std::exception& e) {
            error = e.what();
            co_return std::nullopt;
        }
        o.pool = std::make_unique<upstream::pool>(*o.backend);
        it = s->origins.emplace(key, std::move(o)).first;
    }
    http::request req{http::bhttp::verb::get, target, 11};
    req.set(http::field::accept, "application/json");
    auto out = upstream::build_outgoing(req, *it->second.backend, target, "", "", "");
    out.msg.target(target);
    out.msg.erase("x-request-id");
    out.replay_safe = true;  // a GET: a pooled connection found closed may be retried
    const auto started = std::chrono::steady_clock::now();
    const auto limit = std::chrono::milliseconds(s->idp.jwks_timeout_ms);
    auto r = co_await upstream::exchange(*it->second.pool, out, max_document_bytes, limit);
    if (r.failure != upstream::failure_kind::none) {
        error = r.error;
        co_return std::nullopt;
    }
    std::string body;
    if (r.response.stream) {
        while (true) {
            boost::system::error_code ec;
            auto piece = co_await r.response.stream->next(ec);
            if (ec) {
                error = "reading the answer: " + ec.message();
                co_return std::nullopt;
            }
            if (!piece)
                break;
            body += *piece;
            if (body.size() > max_document_bytes) {
                error = "the answer is over 1 MiB";
                co_return std::nullopt;
            }
            if (std::chrono::steady_clock::now() - started > limit) {
                error = "timed out reading the answer";
                co_return std::nullopt;
            }
        }
    } else {
        body = std::move(r.response.msg.body());
    }
    if (r.response.msg.result_int() != 200) {
        error = url + " answered " + std::to_string(r.response.msg.result_int());
        co_return std::nullopt;
    }
    co_return body;
}

// The keys decide who is trusted: fetched over TLS, or plain http only from this machine and
// only for an issuer on this machine (an https issuer's document cannot point the gateway at
// its own local services).
bool trusted_url(const std::string& url, const std::string& issuer) {
    auto u = upstream::parse_base_url(split_target(url).first);
    if (!u)
        return false;
    return u->tls || (issuer.starts_with("http://") && config::is_loopback_host(u->host));
}

std::string text_member(const nlohmann::json& j, const char* name) {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// Plain functions for the locked parts: no lock in a coroutine frame.
std::optional<discovery_info> discovered_of(const impl& s) {
    std::lock_guard lock(s.mu);
    return s.discovered;
}

void set_discovered(impl& s, discovery_info d) {
    std::lock_guard lock(s.mu);
    s.discovered = std::move(d);
}

void set_keys(impl& s, key_set k) {
    std::lock_guard lock(s.mu);
    s.keys = std::make_shared<const key_set>(std::move(k));
}

constexpr std::size_t max_skip_warnings = 5;  ///< per fetch: a hostile JWKS cannot flood the log

// The discovery document, checked to name the configured issuer.
net::awaitable<bool> fetch_discovery(std::shared_ptr<impl> s, std::string& error) {
    std::string issuer = s->idp.issuer;
    while (!issuer.empty() && issuer.back() == '/')
        issuer.pop_back();
    auto text = co_await fetch(s, issuer + "/.well-known/openid-configuration", error);
    if (!text) {
        error = "discovery: " + error;
        co_return false;
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        error = "discovery: not a JSON object";
        co_return false;
    }
    discovery_info d;
    d.issuer = text_member(j, "issuer");
    d.jwks_uri = text_member(j, "jwks_uri");
    d.authorization_endpoint = text_member(j, "authorization_endpoint");
    d.token_endpoint = text_member(j, "token_endpoint");
    d.end_session_endpoint = text_member(j, "end_session_endpoint");
    // OpenID Connect Discovery 1.0, 4.3: the document must name the issuer it was fetched
    // for, or it is someone else's.
    if (d.issuer != s->idp.issuer) {
        error = "discovery: the document's issuer \"" + d.issuer + "\" is not the configured one";
        co_return false;
    }
    set_discovered(*s, std::move(d));
    co_return true;
}

// The JWKS at `uri`; the key set replaced when it changed.
net::awaitable<bool> fetch_keys(std::shared_ptr<impl> s, std::string uri, std::string& error) {
    if (uri.empty()) {
        error = "discovery names no jwks_uri";
        co_return false;
    }
    if (!trusted_url(uri, s->idp.issuer)) {
        error = "the jwks_uri must be https (http only on loopback, for a loopback issuer): " + uri;
        co_return false;
    }
    auto text = co_await fetch(s, uri, error);
    if (!text) {
        error = "JWKS: " + error;
        co_return false;
    }
    if (*text == s->keys_text)
        co_return true;  // unchanged: remembered tokens stay
    std::vector<std::string> skipped;
    auto set = key_set::parse(*text, error, &skipped);
    if (!set) {
        error = "JWKS: " + error;
        co_return false;
    }
    for (std::size_t i = 0; i < skipped.size() && i < max_skip_warnings; ++i)
        log::warn("access.jwks_key_skipped", skipped[i], {{"issuer", s->name}});
    const auto count = set->keys().size();
    set_keys(*s, std::move(*set));
    s->keys_text = std::move(*text);
    s->generation++;
    log::info("access.jwks_loaded", "signing keys loaded",
              {{"issuer", s->name},
               {"keys", std::to_string(count)},
               {"skipped", std::to_string(skipped.size())}});
    co_return true;
}

// With a configured JWKS URL the keys come first: a slow discovery endpoint (only the
// console's sign-in needs it) cannot use up a waiting request's deadline. Otherwise discovery
// is read while it has not been, and after a failure (a moved JWKS URL is found again).
net::awaitable<bool> fetch_all(std::shared_ptr<impl> s, std::string& error) {
    auto disc = discovered_of(*s);
    if (s->idp.jwks_uri) {
        const bool keys_ok = co_await fetch_keys(s, *s->idp.jwks_uri, error);
        if (!disc || s->fetches_failed.load() > 0) {
            std::string ignored;
            co_await fetch_discovery(s, ignored);
        }
        co_return keys_ok;
    }
    if (!disc || s->fetches_failed.load() > 0) {
        const bool found = co_await fetch_discovery(s, error);  // GCC 12: awaited into a variable
        if (!found)
            co_return false;
        disc = discovered_of(*s);
    }
    co_return co_await fetch_keys(s, disc->jwks_uri, error);
}

net::awaitable<void> loop(std::shared_ptr<impl> s) {
    auto backoff = 1s;
    while (!s->stopped) {
        s->fetching = true;
        s->wake_asked = false;
        s->last_fetch_start_ms = steady_ms();
        std::string error;
        const bool ok = co_await fetch_all(s, error);
        s->fetching = false;
        if (ok) {
            s->fetches_ok++;
            s->fetches_failed = 0;
            s->last_success_ms = unix_now_ms();
            backoff = 1s;
        } else {
            s->fetches_failed++;
            const auto now = std::chrono::steady_clock::now();
            if (!s->last_warning || now - *s->last_warning >= std::chrono::minutes(1)) {
                s->last_warning = now;
                log::warn("access.jwks_fetch_failed",
                          "the issuer's keys could not be fetched; the keys held stay in use",
                          {{"issuer", s->name}, {"reason", error}});
            }
        }
        s->fetches_done++;
        if (s->stopped)
            break;
        const auto refresh = std::chrono::seconds(s->idp.jwks_refresh_seconds);
        const auto wait = ok ? refresh : std::min<std::chrono::seconds>(backoff, refresh);
        // The earliest an unknown kid may have the next fetch: after the minimum interval, and
        // after a failure not before its backoff.
        const auto min_gap =
            std::chrono::milliseconds(std::int64_t{s->idp.jwks_min_refetch_seconds} * 1000);
        const auto gap = ok ? min_gap : std::max<std::chrono::milliseconds>(min_gap, wait);
        s->next_allowed_ms = s->last_fetch_start_ms.load() + gap.count();
        if (!ok)
            backoff = std::min<std::chrono::seconds>(backoff * 2, 60s);
        boost::system::error_code ec;
        if (!s->wake_asked) {  // a request may have asked during the fetch
            s->timer.expires_after(wait);
            co_await s->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        const auto earliest = s->next_allowed_ms.load();
        if (!s->stopped && steady_ms() < earliest) {
            s->timer.expires_after(std::chrono::milliseconds(earliest - steady_ms()));
            co_await s->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
    }
    s->origins.clear();  // idle connections hold watchdogs: closed once nothing more is fetched
}

}  // namespace

identity_provider::identity_provider(std::string name, config::issuer_config idp,
                                     net::any_io_executor background)
    : impl_(std::make_shared<impl>(std::move(name), std::move(idp), background)) {}

identity_provider::~identity_provider() {
    stop();
}

void identity_provider::start() {
    net::co_spawn(impl_->ex, loop(impl_), net::detached);
}

void identity_provider::stop() {
    if (impl_->stopped.exchange(true))
        return;
    auto keep = impl_;
    net::post(impl_->ex, [keep] { keep->timer.cancel(); });
}

identity_provider::outcome identity_provider::verify_now(std::string_view token) {
    auto& s = *impl_;
    outcome out;
    const auto now = unix_now_s();
    auto& mem = memory_of(s);
    const auto generation = s.generation.load(std::memory_order_acquire);
    if (mem.generation != generation) {
        mem.tokens.clear();
        mem.generation = generation;
    }
    if (auto it = mem.tokens.find(std::string(token)); it != mem.tokens.end()) {
        out.error = check_times(*it->second, s.idp.leeway_seconds, now);
        if (out.error == jwt_error::none)
            out.token = it->second;
        else
            mem.tokens.erase(it);
        return out;
    }
    const auto keys = s.current();
    if (!keys) {
        out.no_keys = true;
        out.error = jwt_error::unknown_kid;
        out.refetching = s.ask_refetch(impl_);
        return out;
    }
    auto r = access::verify(token, *keys, s.checks, now);
    out.error = r.error;
    if (r.error == jwt_error::unknown_kid) {
        out.refetching = s.ask_refetch(impl_);
        return out;
    }
    if (r.error != jwt_error::none)
        return out;
    if (mem.tokens.size() >= max_remembered_tokens)
        mem.tokens.clear();
    mem.tokens.emplace(std::string(token), r.token);
    out.token = std::move(r.token);
    return out;
}

net::awaitable<identity_provider::outcome> identity_provider::verify(std::string token) {
    auto first = verify_now(token);
    if (first.error != jwt_error::unknown_kid || !first.refetching)
        co_return first;
    // Made-up kids cost nothing to send: at most this many requests wait at once, the rest
    // are judged at once with the keys held.
    if (impl_->waiters.fetch_add(1) >= max_waiters) {
        impl_->waiters.fetch_sub(1);
        first.refetching = false;
        co_return first;
    }
    struct leave {
        std::atomic<int>& n;
        ~leave() { n.fetch_sub(1); }
    } counted{impl_->waiters};
    // A fetch is running or was just asked for: wait for it to finish, within the deadline.
    const auto done_before = impl_->fetches_done.load();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->idp.jwks_timeout_ms);
    net::steady_timer t(co_await net::this_coro::executor);
    while (std::chrono::steady_clock::now() < deadline) {
        t.expires_after(20ms);
        boost::system::error_code ec;
        co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted)
            break;  // the worker is stopping
        if (impl_->fetches_done.load() != done_before && !impl_->fetching.load())
            break;
    }
    auto again = verify_now(token);
    again.refetching = false;
    co_return again;
}

std::optional<discovery_info> identity_provider::discovery() const {
    std::lock_guard lock(impl_->mu);
    return impl_->discovered;
}

provider_stats identity_provider::stats() const {
    provider_stats st;
    st.fetches_ok = impl_->fetches_ok.load();
    st.fetches_failed = impl_->fetches_failed.load();
    st.last_success_ms = impl_->last_success_ms.load();
    if (auto k = impl_->current())
        st.keys = k->keys().size();
    return st;
}

const config::issuer_config& identity_provider::settings() const {
    return impl_->idp;
}

}  // namespace ditto::access
