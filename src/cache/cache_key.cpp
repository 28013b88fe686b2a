#include "ditto/cache/cache_key.hpp"

#include <algorithm>

#include "ditto/core/hash.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::cache {

std::string route_partition(const std::vector<std::string>& candidates) {
    // Requests on a worker mostly share their candidates: remember the last answer.
    thread_local std::vector<std::string> last_candidates;
    thread_local std::string last_partition;
    if (!last_partition.empty() && candidates == last_candidates)
        return last_partition;
    core::sha256_hasher h;
    h.update("ditto-proxy-route-v1|");
    for (const auto& c : candidates) {
        const auto t = core::trim(c);
        if (!t.empty())
            h.update(t).update("\x1f");
    }
    last_candidates = candidates;
    last_partition = h.hex();
    return last_partition;
}

bool varies_key(std::string_view name, const std::vector<std::string>& extra) {
    if (name.starts_with("openai-") || name.starts_with("anthropic-") || name == "accept" ||
        name == "content-type") {
        return true;
    }
    return std::find(extra.begin(), extra.end(), name) != extra.end();
}

namespace {

// A cheap first filter on the name as sent, before lower-casing it: most request headers
// (host, authorization, content-length, user-agent) are ruled out without an allocation.
bool might_vary_key(std::string_view raw, const std::vector<std::string>& extra) {
    return !extra.empty() || core::iequals_prefix(raw, "openai-") ||
           core::iequals_prefix(raw, "anthropic-") || core::iequals(raw, "accept") ||
           core::iequals(raw, "content-type");
}

}  // namespace

std::string cache_key(const http::request& req, std::string_view path_and_query,
                      std::string_view scope, std::string_view route_partition,
                      std::string_view body, const std::vector<std::string>& extra_headers) {
    // (name, value) in arrival order, stable-sorted by name: values of a repeated header keep
    // their order, as "each value" in docs/caching.md, "The key", says.
    std::vector<std::pair<std::string, std::string_view>> varying;
    for (const auto& f : req) {
        const std::string_view raw(f.name_string().data(), f.name_string().size());
        if (!might_vary_key(raw, extra_headers))
            continue;
        auto name = core::to_lower(raw);
        if (varies_key(name, extra_headers))
            varying.emplace_back(std::move(name),
                                 std::string_view(f.value().data(), f.value().size()));
    }
    std::stable_sort(varying.begin(), varying.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    core::sha256_hasher h;
    h.update("ditto-proxy-cache-v3|")
        .update(std::string_view(req.method_string().data(), req.method_string().size()))
        .update("|")
        .update(path_and_query)
        .update("|")
        .update(scope)
        .update("|")
        .update(route_partition)
        .update("|");
    for (std::size_t i = 0; i < varying.size(); ++i) {
        if (i == 0 || varying[i].first != varying[i - 1].first)
            h.update(varying[i].first).update(":");
        h.update(varying[i].second).update("\x1f");
        if (i + 1 == varying.size() || varying[i + 1].first != varying[i].first)
            h.update("\n");
    }
    h.update("|").update(body);
    return "ditto-proxy-cache-v3-" + h.hex();
}

}  // namespace ditto::cache
