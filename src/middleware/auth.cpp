#include <string>
#include <unordered_map>

#include "ditto/core/hash.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/builtin.hpp"

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

class auth final : public sync_middleware {
  public:
    explicit auth(std::shared_ptr<live_keys> keys) : keys_(std::move(keys)) {}

    step_result enter(proxy_context& ctx, std::optional<http::response>& out) override {
        const auto token = presented_token(ctx.req);
        if (token.empty()) {
            out = unauthorized(ctx.req, "missing virtual key");
            return step_result::answered;
        }
        ctx.keys = keys_->load();
        ctx.key = lookup(ctx.keys, token);
        if (!ctx.key) {
            out = unauthorized(ctx.req, "unauthorized virtual key");
            return step_result::answered;
        }
        if (!ctx.key->enabled) {
            out = unauthorized(ctx.req, "virtual key disabled");
            return step_result::answered;
        }
        return step_result::next;
    }

  private:
    // A presented token is always hashed, so a stored `sha256:` value is never a
    // credential; the map is keyed by digest, so lookup time says nothing about tokens.
    // Each worker remembers the tokens it has already accepted for the snapshot in force,
    // which keeps the SHA-256 off the path of a client's every request. Only accepted tokens
    // are remembered (a flood of wrong ones cannot evict them), at most 4096 per worker, and
    // the memory is dropped whenever the key set changes.
    static const config::virtual_key_config* lookup(
        const std::shared_ptr<const key_snapshot>& snapshot, std::string_view token) {
        struct accepted_tokens {
            std::shared_ptr<const key_snapshot> snapshot;
            std::unordered_map<std::string, const config::virtual_key_config*> keys;
        };
        thread_local accepted_tokens cache;
        if (cache.snapshot != snapshot) {
            cache.keys.clear();
            cache.snapshot = snapshot;
        }
        if (auto it = cache.keys.find(std::string(token)); it != cache.keys.end()) {
            return it->second;
        }
        const auto* key = snapshot->find(core::sha256(token));
        if (key) {
            if (cache.keys.size() >= 4096)
                cache.keys.clear();
            cache.keys.emplace(std::string(token), key);
        }
        return key;
    }

    std::shared_ptr<live_keys> keys_;
};

}  // namespace

std::shared_ptr<middleware> make_auth(std::shared_ptr<live_keys> keys) {
    return std::make_shared<auth>(std::move(keys));
}

}  // namespace ditto::middleware
