#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"

namespace ditto::router {

/// The weighted list of docs/routing.md: entries with a non-blank name and a finite weight > 0; the
/// pick (seeded by `seed`, e.g. fnv1a64(request id)) first, then the rest in config order,
/// duplicates removed. Pure function.
std::vector<std::string> weighted(const std::vector<config::weighted_backend>& entries,
                                  std::uint64_t seed);

/// The rule that governs `model` (docs/governance.md, docs/routing.md): the first exact rule equal
/// to it, else the first prefix rule it starts with (a trailing '*' in the prefix is ignored); null
/// when none matches.
const config::route_rule* match_rule(const config::router_config& r, std::string_view model);

/// Ordered backend candidates for a request (docs/proxy.md, "Routing"). A key with a `route` gets
/// just that backend. Rules are tried exact-first, then by prefix; a matching rule that yields
/// nothing passes to the next matching rule; then the default backends. Empty when nothing
/// applies (the caller answers 502 backend_not_found).
std::vector<std::string> candidates(const config::router_config& r,
                                    const std::optional<std::string>& key_route,
                                    std::string_view model, std::uint64_t seed);

}  // namespace ditto::router
