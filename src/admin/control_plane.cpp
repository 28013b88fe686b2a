#include "ditto/admin/control_plane.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "ditto/config/serialize.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/log/log.hpp"

namespace ditto::admin {

std::string with_actor(std::string payload, const std::string& actor_json) {
    if (actor_json.empty() || payload.empty() || payload.front() != '{')
        return payload;
    std::string out = "{\"actor\":" + actor_json;
    const auto rest = std::string_view(payload).substr(1);
    const bool empty = rest.find_first_not_of(" \t\r\n") == std::string_view::npos ||
                       rest[rest.find_first_not_of(" \t\r\n")] == '}';
    out += empty ? "}" : ",";
    if (!empty)
        out += rest;
    return out;
}

namespace net = boost::asio;

namespace {

constexpr std::size_t max_versions = 100;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string version_id(std::uint64_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "cfgv-%020llu", static_cast<unsigned long long>(n));
    return buf;
}

// What replicas compare to tell a real change from their own echo: the stored form.
std::string stored_form(const std::vector<config::virtual_key_config>& keys,
                        const config::router_config& router) {
    std::string out = config::router_to_json(router);
    for (const auto& k : keys) {
        out += '\n';
        out += config::key_to_json(k, config::token_form::sha256);
    }
    return out;
}

}  // namespace

// Sorts (id prefix, index) pairs, then moves each key once. Sorting the keys themselves moves
// whole structs (dozens of members) at every step, and comparing ids through the keys
// misses the cache at every comparison: seconds for a million keys. The first 16 bytes of
// an id, big-endian and zero-padded, order like the id itself; only equal prefixes need
// the full comparison.
void sort_by_id(std::vector<config::virtual_key_config>& keys) {
    const auto by_id = [](const auto& a, const auto& b) { return a.id < b.id; };
    if (std::is_sorted(keys.begin(), keys.end(), by_id))
        return;
    struct entry {
        std::uint64_t hi, lo;
        std::size_t index;
    };
    const auto word = [](std::string_view s, std::size_t from) {
        std::uint64_t w = 0;
        for (std::size_t i = 0; i < 8; ++i) {
            const auto c = from + i < s.size() ? static_cast<unsigned char>(s[from + i]) : 0;
            w = w << 8 | c;
        }
        return w;
    };
    std::vector<entry> order;
    order.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
        order.push_back({word(keys[i].id, 0), word(keys[i].id, 8), i});
    std::sort(order.begin(), order.end(), [&keys](const entry& a, const entry& b) {
        if (a.hi != b.hi)
            return a.hi < b.hi;
        if (a.lo != b.lo)
            return a.lo < b.lo;
        return keys[a.index].id < keys[b.index].id;
    });
    // Move-constructed into a new array: applying the order in place (cycle by cycle) moves
    // with move-assignments and random writes, and measured slower.
    std::vector<config::virtual_key_config> sorted;
    sorted.reserve(keys.size());
    for (const auto& e : order)
        sorted.push_back(std::move(keys[e.index]));
    keys.swap(sorted);
}

namespace {

// The default audit payload of a change: which version it made, from which, and why.
std::string version_payload(const config_version& before, const config_version& after) {
    core::json_object_writer w;
    w.str("version_id", after.info.version_id)
        .str("previous_version_id", before.info.version_id)
        .str("reason", after.info.reason)
        .str("virtual_keys_sha256", after.info.virtual_keys_sha256.get())
        .str("router_sha256", after.info.router_sha256);
    return w.finish();
}

}  // namespace

// Writers run on one thread (the writer executor), so the lock needs no mutex: a queue of
// timers, the head of which is woken when the holder leaves.
struct control_plane::writer_lock {
    bool held = false;
    std::deque<std::shared_ptr<net::steady_timer>> waiting;

    net::awaitable<void> acquire() {
        if (!held) {
            held = true;
            co_return;
        }
        auto t = std::make_shared<net::steady_timer>(co_await net::this_coro::executor,
                                                     net::steady_timer::time_point::max());
        waiting.push_back(t);
        boost::system::error_code ec;
        co_await t->async_wait(net::redirect_error(net::use_awaitable, ec));
        // Woken by release(): the lock passed to us still held.
    }
    void release() {
        if (waiting.empty()) {
            held = false;
            return;
        }
        auto next = std::move(waiting.front());
        waiting.pop_front();
        next->cancel();
    }
};

namespace {
struct lock_guard_async {
    explicit lock_guard_async(std::function<void()> release) : release_(std::move(release)) {}
    ~lock_guard_async() { release_(); }
    lock_guard_async(const lock_guard_async&) = delete;
    lock_guard_async& operator=(const lock_guard_async&) = delete;
    std::function<void()> release_;
};
}  // namespace

struct lazy_text::state {
    std::once_flag once;
    std::function<std::string()> make;
    std::string value;
};

lazy_text::lazy_text(std::function<std::string()> make) : s_(std::make_shared<state>()) {
    s_->make = std::move(make);
}

const std::string& lazy_text::get() const {
    static const std::string none;
    if (!s_)
        return none;
    std::call_once(s_->once, [this] {
        s_->value = s_->make();
        s_->make = nullptr;  // what it captured (a key list) is not needed any more
    });
    return s_->value;
}

std::string version_info::to_json() const {
    core::json_object_writer w;
    w.str("version_id", version_id)
        .num("created_at_ms", static_cast<std::uint64_t>(created_at_ms))
        .str("reason", reason)
        .num("virtual_key_count", virtual_key_count)
        .str("virtual_keys_sha256", virtual_keys_sha256.get())
        .num("router_default_backend_count", router_default_backend_count)
        .num("router_rule_count", router_rule_count)
        .str("router_sha256", router_sha256);
    return w.finish();
}

std::string keys_sha256(const std::vector<config::virtual_key_config>& keys) {
    // The document is fed to the hash key by key: for a million keys it is 200 MB that
    // never needs to exist in one piece.
    core::sha256_hasher h;
    std::string text = "ditto-gateway-config-version-v1|[";
    text.reserve(64 * 1024 + 4096);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i)
            text += ',';
        config::append_key_json(text, keys[i], config::token_form::raw);
        if (text.size() >= 64 * 1024) {
            h.update(text);
            text.clear();
        }
    }
    text += ']';
    h.update(text);
    return h.hex();
}

std::string router_sha256(const config::router_config& router) {
    return core::sha256_hex("ditto-gateway-router-version-v1|" + config::router_to_json(router));
}

store::control_state stored_state(const std::vector<config::virtual_key_config>& keys,
                                  const config::router_config& router) {
    store::control_state s;
    for (const auto& k : keys)
        s.keys.emplace_back(k.id, config::key_to_json(k, config::token_form::sha256));
    std::sort(s.keys.begin(), s.keys.end());
    s.router_json = config::router_to_json(router);
    return s;
}

bool apply_stored_state(const store::control_state& s, config::gateway_config& base,
                        config::diagnostics& diag) {
    std::vector<config::virtual_key_config> keys;
    for (const auto& [id, json] : s.keys) {
        auto k = config::parse_virtual_key_json(json, diag);
        if (k)
            keys.push_back(std::move(*k));
    }
    std::optional<config::router_config> router;
    if (s.router_json)
        router = config::parse_router_json(*s.router_json, diag);
    if (!diag.ok())
        return false;
    config::gateway_config next = base;
    next.virtual_keys = std::move(keys);
    if (router)
        next.router = std::move(*router);
    config::validate(next, diag);
    if (!diag.ok())
        return false;
    base = std::move(next);
    return true;
}

control_plane::control_plane(options o)
    : base_(std::move(o.base)),
      live_(std::move(o.live)),
      shared_(std::move(o.shared)),
      shared_version_(o.shared_version),
      state_file_(std::move(o.state_file)),
      audit_(std::move(o.audit)),
      writer_(std::move(o.writer)),
      lock_(std::make_unique<writer_lock>()) {
    auto keys = std::make_shared<middleware::key_list>(std::move(base_.virtual_keys));
    base_.virtual_keys.clear();  // the versions own the keys from here
    sort_by_id(*keys);
    push(std::move(keys), base_.router, "bootstrap");
}

control_plane::~control_plane() = default;

void control_plane::start() {
    if (!shared_)
        return;
    std::weak_ptr<control_plane> weak = shared_from_this();
    auto ex = writer_;
    shared_->watch([weak, ex](std::uint64_t) {
        if (auto self = weak.lock())
            net::co_spawn(ex, adopt_from_store(std::move(self)), net::detached);
    });
}

std::shared_ptr<const config_version> control_plane::current() const {
    std::lock_guard lock(mu_);
    return versions_.front();
}

std::vector<std::shared_ptr<const config_version>> control_plane::history() const {
    std::lock_guard lock(mu_);
    return {versions_.begin(), versions_.end()};
}

std::shared_ptr<const config_version> control_plane::find(std::string_view id) const {
    std::lock_guard lock(mu_);
    for (const auto& v : versions_) {
        if (v->info.version_id == id)
            return v;
    }
    return nullptr;
}

std::shared_ptr<const config_version> control_plane::push(
    std::shared_ptr<const middleware::key_list> keys, config::router_config router,
    std::string reason) {
    auto v = std::make_shared<config_version>();
    v->info.created_at_ms = now_ms();
    v->info.reason = std::move(reason);
    v->info.virtual_key_count = keys->size();
    v->info.virtual_keys_sha256 = lazy_text([keys] { return keys_sha256(*keys); });
    v->info.router_default_backend_count = router.default_backends.size();
    v->info.router_rule_count = router.rules.size();
    v->info.router_sha256 = router_sha256(router);
    v->keys = std::move(keys);
    v->router = std::move(router);
    // The snapshot first: once a version is listed, requests already see it.
    if (live_)
        live_->store(std::make_shared<const middleware::key_snapshot>(v->keys, v->router));
    std::lock_guard lock(mu_);
    v->info.version_id = version_id(next_id_++);
    versions_.push_front(v);
    if (versions_.size() > max_versions)
        versions_.pop_back();
    return v;
}

std::optional<admin_failure> control_plane::write_state_file(const config_version& v) const {
    // docs/admin-api.md, "--state PATH": pretty JSON {"virtual_keys":[…], "router"}, tokens hashed;
    // tmp + rename, so a crash leaves the old file or the new one, never half of one.
    std::string doc = "{\n  \"virtual_keys\": [";
    const auto& keys = *v.keys;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        doc += i ? ",\n    " : "\n    ";
        doc += config::key_to_json(keys[i], config::token_form::sha256);
    }
    doc += keys.empty() ? "],\n" : "\n  ],\n";
    doc += "  \"router\": " + config::router_to_json(v.router) + "\n}\n";
    const auto tmp = state_file_->string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        ::chmod(tmp.c_str(), 0600);
        out << doc;
        out.flush();
        if (!out)
            return admin_failure{500, "storage_error", "cannot write the state file"};
    }
    if (std::rename(tmp.c_str(), state_file_->c_str()) != 0) {
        std::remove(tmp.c_str());
        return admin_failure{500, "storage_error", "cannot replace the state file"};
    }
    return std::nullopt;
}

// The caller's side of a change, held by the writer while the change runs: the caller's
// suspended coroutine (its completion handler) and a work guard that keeps the caller's event
// loop from running out of work meanwhile. Unlike co_spawn(writer, …, use_awaitable), whose
// frame keeps a tracked copy of the caller's executor until some time after the answer is
// dispatched, this one lets go of everything at a known point: see wait_idle().
struct control_plane::reply_to_caller {
    virtual ~reply_to_caller() = default;
    /// Posts the answer to the caller's executor and drops every reference to it.
    virtual void deliver(outcome out) = 0;
};

template <class Handler>
struct control_plane::reply_to final : control_plane::reply_to_caller {
    explicit reply_to(Handler&& h)
        : handler(std::move(h)),
          work(net::make_work_guard(net::get_associated_executor(handler))) {}
    void deliver(outcome out) override {
        auto ex = work.get_executor();
        net::post(ex, [h = std::move(handler), out = std::move(out)]() mutable {
            std::move(h)(std::move(out));
        });
        work.reset();
    }
    Handler handler;
    net::executor_work_guard<net::associated_executor_t<Handler>> work;
};

net::awaitable<control_plane::outcome> control_plane::mutate(request r) {
    auto self = shared_from_this();
    pending_.fetch_add(1, std::memory_order_acq_rel);
    auto start = [self, r = std::move(r)](auto handler) mutable {
        using handler_type = decltype(handler);
        std::unique_ptr<reply_to_caller> reply =
            std::make_unique<reply_to<handler_type>>(std::move(handler));
        auto ex = self->writer_;
        net::co_spawn(ex, run_and_reply(std::move(self), std::move(r), std::move(reply)),
                      net::detached);
    };
    co_return co_await net::async_initiate<const net::use_awaitable_t<>&, void(outcome)>(
        std::move(start), net::use_awaitable);
}

net::awaitable<void> control_plane::run_and_reply(std::shared_ptr<control_plane> self, request r,
                                                  std::unique_ptr<reply_to_caller> reply) {
    outcome out;
    try {
        out = co_await run_mutation(self, std::move(r));
    } catch (const std::exception& e) {
        log::error("admin.change_error", e.what());
        out = outcome{};
        out.failure = admin_failure{500, "storage_error", "the change failed"};
    }
    reply->deliver(std::move(out));
    reply.reset();
    self->pending_.fetch_sub(1, std::memory_order_acq_rel);
}

bool control_plane::wait_idle(std::chrono::milliseconds limit) const {
    // Shutdown only, after the workers stopped: a short poll is simpler than a wake-up.
    const auto until = std::chrono::steady_clock::now() + limit;
    while (pending_.load(std::memory_order_acquire) != 0) {
        if (std::chrono::steady_clock::now() >= until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

net::awaitable<control_plane::outcome> control_plane::run_mutation(
    std::shared_ptr<control_plane> self, request r) {
    co_await self->lock_->acquire();
    auto* lock = self->lock_.get();
    lock_guard_async release([lock] { lock->release(); });
    outcome out;
    // A compare-and-set conflict means another replica changed the keys meanwhile: re-read
    // them and apply this change on top (each lost race means another writer progressed).
    for (int attempt = 0; attempt < 20; ++attempt) {
        out = outcome{};
        out.before = self->current();
        auto keys = *out.before->keys;
        auto router = out.before->router;
        out.failure = r.change(keys, router);
        if (out.failure)
            co_return out;
        sort_by_id(keys);
        config::gateway_config staged = self->base_;
        staged.virtual_keys = std::move(keys);
        staged.router = router;
        config::diagnostics diag;
        config::validate(staged, diag);
        if (!diag.ok()) {
            std::string msg;
            for (const auto& e : diag.errors)
                msg += (msg.empty() ? "" : "; ") + e;
            out.failure = admin_failure{400, "invalid_request", msg};
            co_return out;
        }
        auto list = std::make_shared<const middleware::key_list>(std::move(staged.virtual_keys));
        auto would = std::make_shared<config_version>();
        would->keys = list;
        would->router = router;
        would->info.virtual_key_count = list->size();
        would->info.virtual_keys_sha256 = lazy_text([list] { return keys_sha256(*list); });
        would->info.router_default_backend_count = router.default_backends.size();
        would->info.router_rule_count = router.rules.size();
        would->info.router_sha256 = router_sha256(router);
        if (r.dry_run ||
            (would->info.virtual_keys_sha256.get() == out.before->info.virtual_keys_sha256.get() &&
             would->info.router_sha256 == out.before->info.router_sha256)) {
            out.noop = true;
            out.after = would;
            co_return out;
        }
        if (self->shared_) {
            auto saved =
                co_await self->shared_->save(stored_state(*list, router), self->shared_version_);
            if (saved.error == store::control_conflict()) {
                log::debug("admin.conflict", "another writer saved first; re-reading",
                           {{"expected", std::to_string(self->shared_version_)},
                            {"stored", std::to_string(saved.version)}});
                co_await self->reload_locked();
                continue;
            }
            if (saved.error) {
                out.failure = admin_failure{500, "storage_error",
                                            "cannot persist the change: " + saved.error.message()};
                co_return out;
            }
            self->shared_version_ = saved.version;
        }
        if (self->state_file_) {
            if (auto failed = self->write_state_file(*would)) {
                out.failure = std::move(failed);
                co_return out;
            }
        }
        out.after = self->push(std::move(list), std::move(router), r.reason);
        if (!r.audit_kind.empty() && self->audit_) {
            auto payload = r.audit_payload ? r.audit_payload(*out.before, *out.after)
                                           : version_payload(*out.before, *out.after);
            const auto ec = co_await self->audit_->append(
                r.audit_kind, with_actor(std::move(payload), r.actor_json));
            if (ec)
                out.audit_error = ec.message();
        }
        log::info("admin.change", r.reason,
                  {{"version_id", out.after->info.version_id},
                   {"virtual_keys", std::to_string(out.after->info.virtual_key_count)}});
        co_return out;
    }
    out.failure = admin_failure{409, "conflict", "the configuration kept changing; try again"};
    co_return out;
}

net::awaitable<void> control_plane::adopt_from_store(std::shared_ptr<control_plane> self) {
    co_await self->lock_->acquire();
    auto* lock = self->lock_.get();
    lock_guard_async release([lock] { lock->release(); });
    co_await self->reload_locked();
}

net::awaitable<bool> control_plane::reload_locked() {
    const auto started = std::chrono::steady_clock::now();
    auto loaded = co_await shared_->load();
    if (loaded.error || !loaded.state) {
        log::warn("store.reload_error", "cannot re-read keys and router",
                  {{"error", loaded.error ? loaded.error.message() : "no state"}});
        co_return false;
    }
    config::gateway_config cfg = base_;
    config::diagnostics diag;
    if (!apply_stored_state(*loaded.state, cfg, diag)) {
        log::error(
            "store.reload_invalid",
            "keys or router in the store are invalid; keeping the running ones",
            {{"version", std::to_string(loaded.state->version)}, {"error", diag.errors.front()}});
        co_return false;
    }
    shared_version_ = loaded.state->version;
    sort_by_id(cfg.virtual_keys);
    const auto now = current();
    // Our own save echoed back, or a version we already hold: nothing to do.
    if (stored_form(cfg.virtual_keys, cfg.router) == stored_form(*now->keys, now->router))
        co_return true;
    const auto n = cfg.virtual_keys.size();
    push(std::make_shared<const middleware::key_list>(std::move(cfg.virtual_keys)),
         std::move(cfg.router), "store.reload");
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    log::info("store.reloaded", "keys and router reloaded",
              {{"version", std::to_string(loaded.state->version)},
               {"keys", std::to_string(n)},
               {"reload_us", std::to_string(us)}});
    co_return true;
}

}  // namespace ditto::admin
