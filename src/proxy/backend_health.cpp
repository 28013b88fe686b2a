#include "ditto/proxy/backend_health.hpp"

#include <algorithm>

#include "ditto/core/json_writer.hpp"

namespace ditto::proxy {

using config::failure_action;

namespace {
bool listed(const std::vector<unsigned>& codes, unsigned status) {
    return std::binary_search(codes.begin(), codes.end(), status);
}
}  // namespace

failure_action action_for(const config::retry_settings& r, attempt_failure kind, unsigned status) {
    switch (kind) {
        case attempt_failure::network:
            return r.network_error_action;
        case attempt_failure::timeout:
            return r.timeout_error_action;
        case attempt_failure::status:
            break;
    }
    if (r.enabled && listed(r.retry_status_codes, status))
        return failure_action::retry;
    if (listed(r.fallback_status_codes, status))
        return failure_action::fallback;
    return failure_action::none;
}

std::size_t max_attempts(const config::retry_settings& r, std::size_t candidates) {
    const std::size_t wanted = r.max_attempts ? *r.max_attempts : candidates;
    return std::clamp<std::size_t>(wanted, 1, std::max<std::size_t>(candidates, 1));
}

std::string backend_view::to_json() const {
    core::json_object_writer w;
    w.str("backend", backend)
        .num("consecutive_failures", consecutive_failures)
        .num("unhealthy_until_epoch_seconds",
             static_cast<std::uint64_t>(std::max<std::int64_t>(0, unhealthy_until_epoch_seconds)));
    if (last_error)
        w.str("last_error", *last_error);
    if (last_failure_ts_ms)
        w.num("last_failure_ts_ms", static_cast<std::uint64_t>(*last_failure_ts_ms));
    if (health_check_healthy)
        w.boolean("health_check_healthy", *health_check_healthy);
    if (health_check_last_error)
        w.str("health_check_last_error", *health_check_last_error);
    if (health_check_last_ts_ms)
        w.num("health_check_last_ts_ms", static_cast<std::uint64_t>(*health_check_last_ts_ms));
    return w.finish();
}

backend_health::backend_health(const std::vector<std::string>& backends,
                               config::routing_settings settings)
    : settings_(std::move(settings)) {
    for (const auto& name : backends) {
        auto s = std::make_unique<state>();
        s->view.backend = name;
        states_.emplace(name, std::move(s));
    }
}

std::int64_t backend_health::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::vector<std::string> backend_health::filter(std::vector<std::string> candidates) const {
    if (!filtering())
        return candidates;
    const auto now = now_ms();
    std::vector<std::string> kept;
    for (const auto& c : candidates) {
        auto it = states_.find(c);
        if (it == states_.end()) {
            kept.push_back(c);
            continue;
        }
        std::lock_guard lock(it->second->mu);
        const auto& v = it->second->view;
        const bool check_failed = v.health_check_healthy && !*v.health_check_healthy;
        if (!check_failed && now >= v.unhealthy_until_ms)
            kept.push_back(c);
    }
    return kept.empty() ? candidates : kept;
}

void backend_health::record_failure(const std::string& backend, attempt_failure kind,
                                    unsigned status, std::string error,
                                    std::optional<std::uint64_t> retry_after_seconds) {
    auto it = states_.find(backend);
    if (it == states_.end())
        return;
    const auto& b = settings_.breaker;
    bool counts = false;
    switch (kind) {
        case attempt_failure::network:
            counts = b.count_network_errors;
            break;
        case attempt_failure::timeout:
            counts = b.count_timeout_errors;
            break;
        case attempt_failure::status:
            counts =
                (b.count_server_errors && status >= 500) || listed(b.failure_status_codes, status);
            break;
    }
    const auto now = now_ms();
    std::lock_guard lock(it->second->mu);
    auto& v = it->second->view;
    v.last_error = std::move(error);
    v.last_failure_ts_ms = now;
    if (!b.enabled)
        return;
    // Kept in milliseconds (a 1 s cooldown is a full second whenever the failure happened
    // within its second); shown in whole seconds, rounded up.
    auto eject_for = [&v, now](std::uint64_t seconds) {
        v.unhealthy_until_ms = std::max<std::int64_t>(
            v.unhealthy_until_ms, now + static_cast<std::int64_t>(seconds) * 1000);
        v.unhealthy_until_epoch_seconds = (v.unhealthy_until_ms + 999) / 1000;
    };
    if (counts && ++v.consecutive_failures >= b.failure_threshold)
        eject_for(b.cooldown_seconds);
    // Ours: an upstream that says when to come back (429/503 with retry-after) is left alone
    // that long (at most the cooldown), whatever the count.
    if (retry_after_seconds && *retry_after_seconds > 0)
        eject_for(std::min<std::uint64_t>(*retry_after_seconds, b.cooldown_seconds));
}

void backend_health::record_success(const std::string& backend) {
    auto it = states_.find(backend);
    if (it == states_.end())
        return;
    std::lock_guard lock(it->second->mu);
    auto& v = it->second->view;
    v.consecutive_failures = 0;
    v.unhealthy_until_epoch_seconds = 0;
    v.unhealthy_until_ms = 0;
}

void backend_health::record_check(const std::string& backend, bool healthy, std::string error) {
    auto it = states_.find(backend);
    if (it == states_.end())
        return;
    std::lock_guard lock(it->second->mu);
    auto& v = it->second->view;
    v.health_check_healthy = healthy;
    v.health_check_last_ts_ms = now_ms();
    if (healthy)
        v.health_check_last_error.reset();
    else
        v.health_check_last_error = std::move(error);
}

std::vector<backend_view> backend_health::snapshot() const {
    std::vector<backend_view> out;
    for (const auto& [name, s] : states_) {
        std::lock_guard lock(s->mu);
        out.push_back(s->view);
    }
    return out;
}

backend_view backend_health::reset(const std::string& backend) {
    backend_view fresh;
    fresh.backend = backend;
    auto it = states_.find(backend);
    if (it == states_.end())
        return fresh;
    std::lock_guard lock(it->second->mu);
    it->second->view = fresh;
    return fresh;
}

std::vector<std::pair<std::string, std::optional<std::string>>> backend_health::readiness() const {
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    if (!settings_.health.enabled)
        return out;
    for (const auto& [name, s] : states_) {
        std::lock_guard lock(s->mu);
        const auto& v = s->view;
        if (!v.health_check_healthy)
            out.emplace_back(name, "backend health check has not completed yet");
        else if (!*v.health_check_healthy)
            out.emplace_back(name, v.health_check_last_error.value_or("unhealthy"));
        else
            out.emplace_back(name, std::nullopt);
    }
    return out;
}

}  // namespace ditto::proxy
