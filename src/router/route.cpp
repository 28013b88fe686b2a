#include "ditto/router/route.hpp"

#include <algorithm>
#include <cmath>

#include "ditto/core/strings.hpp"

namespace ditto::router {
namespace {

std::string_view prefix_of(const config::route_rule& rule) {
    std::string_view p = rule.model_prefix;
    if (p.ends_with('*'))
        p.remove_suffix(1);
    return p;
}

bool rule_matches(const config::route_rule& rule, std::string_view model) {
    return rule.exact ? model == rule.model_prefix : model.starts_with(prefix_of(rule));
}

// Backends a matching rule yields, or empty to fall through to the next matching rule.
std::vector<std::string> from_rule(const config::route_rule& rule, std::uint64_t seed) {
    if (!rule.backends.empty()) {
        auto w = weighted(rule.backends, seed);
        if (!w.empty())
            return w;
    }
    if (!core::trim(rule.backend).empty())
        return {rule.backend};
    return {};
}

}  // namespace

std::vector<std::string> weighted(const std::vector<config::weighted_backend>& entries,
                                  std::uint64_t seed) {
    std::vector<const config::weighted_backend*> usable;
    for (const auto& e : entries) {
        if (!core::trim(e.backend).empty() && std::isfinite(e.weight) && e.weight > 0) {
            usable.push_back(&e);
        }
    }
    if (usable.empty())
        return {};
    std::size_t pick = usable.size() - 1;
    if (usable.size() > 1) {
        double total = 0;
        for (auto* e : usable)
            total += e->weight;
        const double unit = static_cast<double>(seed >> 11) / 9007199254740992.0;  // 2^53
        double left = unit * total;
        for (std::size_t i = 0; i < usable.size(); ++i) {
            if (left < usable[i]->weight) {
                pick = i;
                break;
            }
            left -= usable[i]->weight;
        }
    }
    std::vector<std::string> out;
    out.reserve(usable.size());
    out.push_back(usable[pick]->backend);
    for (std::size_t i = 0; i < usable.size(); ++i) {
        if (i == pick)
            continue;
        const auto& name = usable[i]->backend;
        if (std::find(out.begin(), out.end(), name) == out.end())
            out.push_back(name);
    }
    return out;
}

const config::route_rule* match_rule(const config::router_config& r, std::string_view model) {
    for (const auto& rule : r.rules) {
        if (rule.exact && model == rule.model_prefix)
            return &rule;
    }
    for (const auto& rule : r.rules) {
        if (!rule.exact && model.starts_with(prefix_of(rule)))
            return &rule;
    }
    return nullptr;
}

std::vector<std::string> candidates(const config::router_config& r,
                                    const std::optional<std::string>& key_route,
                                    std::string_view model, std::uint64_t seed) {
    if (key_route)
        return {*key_route};
    for (bool exact : {true, false}) {
        for (const auto& rule : r.rules) {
            if (rule.exact != exact || !rule_matches(rule, model))
                continue;
            auto c = from_rule(rule, seed);
            if (!c.empty())
                return c;
        }
    }
    return weighted(r.default_backends, seed);
}

}  // namespace ditto::router
