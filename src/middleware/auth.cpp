#include <string>
#include <unordered_map>

#include "ditto/core/hash.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/budget_periods.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/jwt_clients.hpp"

namespace ditto::middleware {
namespace {

http::response unauthorized(const http::request& req, std::string_view msg) {
    return api_error(req, http::gateway_error::invalid_api_key, msg);
}

// docs/proxy.md, "Virtual-key auth": the first present, non-empty header wins; later ones are never
// tried.
std::string_view presented_token(const http::request& req) {
    if (auto it = req.find("x-litellm-api-key"); it != req.end()) {
        auto v = core::trim(it->value());
        if (!v.empty()) {
            if (v.starts_with("Bearer ") || v.starts_with("bearer "))
                v = core::trim(v.substr(7));
            return v;
        }
    }
    if (auto it = req.find(http::field::authorization); it != req.end()) {
        auto v = core::trim(it->value());
        if (!v.empty()) {
            // Exactly "Bearer " or "bearer "; any other scheme presents no usable key.
            if (v.starts_with("Bearer ") || v.starts_with("bearer "))
                return core::trim(v.substr(7));
            return {};
        }
    }
    // x-api-key is Anthropic's header, x-goog-api-key Gemini's (docs/dialects.md).
    for (auto name : {"x-ditto-virtual-key", "x-api-key", "x-goog-api-key"}) {
        if (auto it = req.find(name); it != req.end()) {
            auto v = core::trim(it->value());
            if (!v.empty())
                return v;
        }
    }
    return {};
}

class auth final : public middleware {
  public:
    auth(std::shared_ptr<live_keys> keys, std::shared_ptr<jwt_clients> clients)
        : keys_(std::move(keys)), clients_(std::move(clients)) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        const auto token = presented_token(ctx.req);
        if (token.empty()) {
            out = unauthorized(ctx.req, "missing virtual key");
            return step_result::answered;
        }
        ctx.keys = keys_->load();
        const auto m = lookup(ctx.keys, token);
        ctx.key = m.key;
        if (!ctx.key && clients_ && access::looks_like_jwt(token)) {
            // docs/access.md, "Clients": a JWT in place of a virtual key.
            auto r = clients_->resolve_now(token, ctx.keys);
            if (r.wait)
                return step_result::wait;  // its signing key is being fetched: handle()
            return admit(ctx, std::move(r), out);
        }
        return judge(ctx, m.previous, out);
    }

    // Only for a JWT whose signing key is being fetched (enter() said wait), or a caller that
    // calls the step directly.
    boost::asio::awaitable<http::response> handle(proxy_context& ctx, next_fn next) override {
        std::optional<http::response> out;
        step_result sr = step_result::wait;  // the chain's call: enter() said wait
        const auto token = presented_token(ctx.req);
        if (!ctx.keys || ctx.key || !clients_ || !access::looks_like_jwt(token))
            sr = enter(ctx, out);
        // enter() waits only for a JWT whose key is being fetched: resolve it here, never pass.
        if (sr == step_result::wait) {
            auto r = co_await clients_->resolve(std::string(token), ctx.keys);
            if (r.wait)
                r.message = "the token is signed by a key the issuer does not publish";
            r.wait = false;
            sr = admit(ctx, std::move(r), out);
        }
        if (sr == step_result::answered)
            co_return std::move(*out);
        co_return co_await next(ctx);
    }

  private:
    step_result admit(proxy_context& ctx, jwt_clients::result r,
                      std::optional<http::response>& out) {
        if (!r.key) {
            out = api_error(ctx.req, r.error, r.message);
            return step_result::answered;
        }
        ctx.keys = std::move(r.snapshot);
        ctx.key = r.key;
        return judge(ctx, false, out);
    }

    step_result judge(proxy_context& ctx, bool previous, std::optional<http::response>& out) {
        if (!ctx.key) {
            out = unauthorized(ctx.req, "unauthorized virtual key");
            return step_result::answered;
        }
        if (!ctx.key->enabled) {
            out = unauthorized(ctx.req, "virtual key disabled");
            return step_result::answered;
        }
        if (ctx.key->expires_at_ms || previous) {
            if (auto why = expired(*ctx.key, previous)) {
                out = api_error(ctx.req, http::gateway_error::key_expired, *why);
                return step_result::answered;
            }
        }
        return step_result::next;
    }

    // A presented token is always hashed, so a stored `sha256:` value is never a
    // credential; the map is keyed by digest, so lookup time says nothing about tokens.
    // Each worker remembers the tokens it has already accepted for the snapshot in force,
    // which keeps the SHA-256 off the path of a client's every request. Only accepted tokens
    // are remembered (a flood of wrong ones cannot evict them), at most 4096 per worker, and
    // the memory is dropped whenever the key set changes.
    // A rotated-out token is remembered too: its grace period is checked on every request.
    struct match {
        const config::virtual_key_config* key = nullptr;
        bool previous = false;  ///< the key's rotated-out token
    };
    static match lookup(const std::shared_ptr<const key_snapshot>& snapshot,
                        std::string_view token) {
        struct accepted_tokens {
            std::shared_ptr<const key_snapshot> snapshot;
            std::unordered_map<std::string, match> keys;
        };
        thread_local accepted_tokens cache;
        if (cache.snapshot != snapshot) {
            cache.keys.clear();
            cache.snapshot = snapshot;
        }
        if (auto it = cache.keys.find(std::string(token)); it != cache.keys.end()) {
            return it->second;
        }
        const auto digest = core::sha256(token);
        match m{snapshot->find(digest)};
        if (!m.key) {
            m.key = snapshot->find_previous(digest);
            m.previous = m.key != nullptr;
        }
        if (m.key) {
            if (cache.keys.size() >= 4096)
                cache.keys.clear();
            cache.keys.emplace(std::string(token), m);
        }
        return m;
    }

    // docs/governance.md, "Key expiry" and "Rotation": judged by the calendar clock.
    static std::optional<std::string> expired(const config::virtual_key_config& key,
                                              bool previous) {
        const auto now = calendar_now_ms();
        if (key.expires_at_ms && now >= *key.expires_at_ms)
            return "virtual key expired at " + core::format_rfc3339_utc(*key.expires_at_ms);
        if (previous && now >= key.previous_token_expires_at_ms.value_or(0)) {
            return "virtual key token was replaced by a rotation; its grace period ended at " +
                   core::format_rfc3339_utc(key.previous_token_expires_at_ms.value_or(0));
        }
        return std::nullopt;
    }

    std::shared_ptr<live_keys> keys_;
    std::shared_ptr<jwt_clients> clients_;  ///< null without access.clients
};

}  // namespace

std::shared_ptr<middleware> make_auth(std::shared_ptr<live_keys> keys,
                                      std::shared_ptr<jwt_clients> clients) {
    return std::make_shared<auth>(std::move(keys), std::move(clients));
}

}  // namespace ditto::middleware
