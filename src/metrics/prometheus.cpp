#include "ditto/metrics/prometheus.hpp"

#include <charconv>
#include <cstdio>
#include <map>

#include "ditto/core/strings.hpp"

namespace ditto::metrics {

namespace {

struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using counter_map = std::unordered_map<std::string, std::uint64_t, sv_hash, std::equal_to<>>;
using gauge_map = std::unordered_map<std::string, std::int64_t, sv_hash, std::equal_to<>>;

constexpr std::array<double, 11> duration_buckets = {.005, .01, .025, .05, .1, .25,
                                                     .5,   1,   2.5,  5,   10};
// Ours: the gateway's own time per request is microseconds, not seconds.
constexpr std::array<double, 11> overhead_buckets = {.00001, .000025, .00005, .0001, .00025, .0005,
                                                     .001,   .0025,   .005,   .01,   .025};

template <std::size_t N>
struct histogram {
    std::array<std::uint64_t, N> buckets{};  ///< non-cumulative; +Inf = count
    double sum = 0;
    std::uint64_t count = 0;
    void observe(double v, const std::array<double, N>& bounds) {
        for (std::size_t i = 0; i < N; ++i) {
            if (v <= bounds[i]) {
                ++buckets[i];
                break;
            }
        }
        sum += v;
        ++count;
    }
    void merge(const histogram& o) {
        for (std::size_t i = 0; i < N; ++i)
            buckets[i] += o.buckets[i];
        sum += o.sum;
        count += o.count;
    }
};
using duration_hist = histogram<duration_buckets.size()>;
using hist_map = std::unordered_map<std::string, duration_hist, sv_hash, std::equal_to<>>;
using status_map = std::unordered_map<std::string, std::unordered_map<unsigned, std::uint64_t>,
                                      sv_hash, std::equal_to<>>;

enum kind : std::size_t { key_k, model_k, backend_k, path_k };

template <class M>
typename M::mapped_type& slot(M& m, std::string_view label) {
    auto it = m.find(label);
    if (it == m.end())
        it = m.emplace(std::string(label), typename M::mapped_type{}).first;
    return it->second;
}

}  // namespace

struct prometheus::caps_state {
    std::array<std::size_t, 4> cap{};
    std::function<std::string(std::string_view)> filter;
    std::mutex mu;
    std::array<std::unordered_set<std::string>, 4> admitted;  ///< raw values under the cap
};

struct prometheus::shard {
    std::mutex mu;
    // Raw label value → the label written (redacted, or __overflow__), per kind.
    std::array<std::unordered_map<std::string, std::string, sv_hash, std::equal_to<>>, 4> labels;

    std::uint64_t requests = 0;
    std::array<counter_map, 3> requests_by;  ///< key, model, path
    std::array<std::uint64_t, 3> blocked{};  ///< rate_limited, guardrail_blocked, budget_exceeded
    std::array<std::array<counter_map, 3>, 3> blocked_by;
    std::uint64_t cache_lookups = 0, cache_misses = 0, cache_hits = 0;
    counter_map cache_lookups_by_path, cache_misses_by_path, cache_hits_by_path,
        cache_hits_by_source;
    counter_map backend_attempts, backend_success, backend_failures;
    std::array<std::uint64_t, 4> stream{};  ///< bytes, completed, errors, aborted
    std::array<counter_map, 4> stream_by_backend, stream_by_path;
    std::int64_t stream_connections = 0;
    gauge_map stream_connections_by_backend, stream_connections_by_path;
    std::unordered_map<unsigned, std::uint64_t> responses;
    std::array<status_map, 4> responses_by;  ///< path, backend, model, router_version
    hist_map backend_duration, request_duration_by_path, request_duration_by_model,
        request_duration_by_router_version;
    histogram<overhead_buckets.size()> overhead;
    counter_map tokens_in, tokens_out, cost;  ///< by usage_key(key, model)
};

namespace {

// One map key for a (key, model) pair: "<key length>:<key><model>". Either label may hold any
// byte (a key id is the operator's text, a model the client's), so no separator would do.
std::string usage_key(std::string_view key, std::string_view model) {
    std::string k = std::to_string(key.size());
    k += ':';
    k += key;
    k += model;
    return k;
}

std::pair<std::string_view, std::string_view> split_usage_key(std::string_view k) {
    const auto colon = k.find(':');
    std::size_t n = 0;
    for (const char c : k.substr(0, colon))
        n = n * 10 + static_cast<std::size_t>(c - '0');
    const auto rest = k.substr(colon + 1);
    return {rest.substr(0, n), rest.substr(n)};
}

// The label to write for `raw`: cached per shard; admitted under the kind's cap, globally.
std::string_view label_of(prometheus::shard& s, prometheus::caps_state& c, kind k,
                          std::string_view raw) {
    static const std::string overflow = "__overflow__";
    auto& cache = s.labels[k];
    if (auto it = cache.find(raw); it != cache.end())
        return it->second;
    bool admitted = false;
    {
        std::lock_guard lock(c.mu);
        auto& set = c.admitted[k];
        if (set.count(std::string(raw)) || set.size() < c.cap[k]) {
            set.emplace(raw);
            admitted = true;
        }
    }
    if (!admitted && cache.size() >= 4 * c.cap[k])
        return overflow;  // do not grow the cache with every new overflowing value
    auto value = admitted ? (c.filter ? c.filter(raw) : std::string(raw)) : overflow;
    return cache.emplace(std::string(raw), std::move(value)).first->second;
}

}  // namespace

prometheus::prometheus(series_caps caps, std::function<std::string(std::string_view)> filter,
                       unsigned shards)
    : caps_(std::make_unique<caps_state>()) {
    caps_->cap = {caps.key, caps.model, caps.backend, caps.path};
    caps_->filter = std::move(filter);
    for (unsigned i = 0; i < std::max(1u, shards); ++i)
        shards_.push_back(std::make_unique<shard>());
}

prometheus::~prometheus() = default;

prometheus::shard& prometheus::at(unsigned i) {
    return *shards_[i % shards_.size()];
}

void prometheus::record(unsigned index, const request_record& r) {
    auto& s = at(index);
    auto& c = *caps_;
    std::lock_guard lock(s.mu);
    const auto key = label_of(s, c, key_k, r.key_id.empty() ? "public" : r.key_id);
    const auto model = label_of(s, c, model_k, r.model);
    const auto path = label_of(s, c, path_k, r.path);
    const std::array<std::string_view, 3> by = {key, model, path};
    // Requests refused before a key was identified (401, 413, …) count in the responses only.
    if (r.authenticated) {
        ++s.requests;
        for (std::size_t i = 0; i < 3; ++i)
            ++slot(s.requests_by[i], by[i]);
    }
    if (r.blocked != blocked_by::none) {
        const auto b = static_cast<std::size_t>(r.blocked) - 1;
        ++s.blocked[b];
        for (std::size_t i = 0; i < 3; ++i)
            ++slot(s.blocked_by[b][i], by[i]);
    }
    if (r.cache != cache_outcome::not_eligible) {
        ++s.cache_lookups;
        ++slot(s.cache_lookups_by_path, path);
        if (r.cache == cache_outcome::miss) {
            ++s.cache_misses;
            ++slot(s.cache_misses_by_path, path);
        } else {
            ++s.cache_hits;
            ++slot(s.cache_hits_by_path, path);
            ++slot(s.cache_hits_by_source,
                   r.cache == cache_outcome::hit_memory ? "memory" : "redis");
        }
    }
    for (const auto& a : r.attempts) {
        const auto b = label_of(s, c, backend_k, a.backend);
        ++slot(s.backend_attempts, b);
        ++slot(a.failure ? s.backend_failures : s.backend_success, b);
        if (a.ok)
            slot(s.backend_duration, b).observe(a.seconds, duration_buckets);
    }
    ++s.responses[r.status];
    ++slot(s.responses_by[0], path)[r.status];
    if (!r.backend.empty())
        ++slot(s.responses_by[1], label_of(s, c, backend_k, r.backend))[r.status];
    slot(s.request_duration_by_path, path).observe(r.duration_seconds, duration_buckets);
    if (!r.model.empty()) {
        ++slot(s.responses_by[2], model)[r.status];
        slot(s.request_duration_by_model, model).observe(r.duration_seconds, duration_buckets);
    }
    // The versions a process has routed by: each router change makes one. Past 256 (a
    // gateway that has lived through that many router changes) new ones count as __overflow__.
    if (!r.router_version.empty()) {
        const bool known =
            s.responses_by[3].size() < 256 || s.responses_by[3].count(r.router_version);
        const std::string_view v = known ? r.router_version : std::string_view("__overflow__");
        ++slot(s.responses_by[3], v)[r.status];
        slot(s.request_duration_by_router_version, v).observe(r.duration_seconds, duration_buckets);
    }
    s.overhead.observe(r.overhead_seconds, overhead_buckets);
}

void prometheus::stream_opened(unsigned index, std::string_view backend, std::string_view path) {
    auto& s = at(index);
    std::lock_guard lock(s.mu);
    ++s.stream_connections;
    ++slot(s.stream_connections_by_backend, label_of(s, *caps_, backend_k, backend));
    ++slot(s.stream_connections_by_path, label_of(s, *caps_, path_k, path));
}

void prometheus::stream_closed(unsigned index, std::string_view backend, std::string_view path,
                               std::uint64_t bytes, stream_end end) {
    auto& s = at(index);
    std::lock_guard lock(s.mu);
    const auto b = label_of(s, *caps_, backend_k, backend);
    const auto p = label_of(s, *caps_, path_k, path);
    --s.stream_connections;
    --slot(s.stream_connections_by_backend, b);
    --slot(s.stream_connections_by_path, p);
    const std::size_t which = 1 + static_cast<std::size_t>(end);
    s.stream[0] += bytes;
    ++s.stream[which];
    slot(s.stream_by_backend[0], b) += bytes;
    slot(s.stream_by_path[0], p) += bytes;
    ++slot(s.stream_by_backend[which], b);
    ++slot(s.stream_by_path[which], p);
}

void prometheus::usage(unsigned index, std::string_view key_id, std::string_view model,
                       std::uint64_t input_tokens, std::uint64_t output_tokens,
                       std::uint64_t cost_usd_micros) {
    auto& s = at(index);
    std::lock_guard lock(s.mu);
    const auto k = usage_key(label_of(s, *caps_, key_k, key_id.empty() ? "public" : key_id),
                             label_of(s, *caps_, model_k, model));
    slot(s.tokens_in, k) += input_tokens;
    slot(s.tokens_out, k) += output_tokens;
    slot(s.cost, k) += cost_usd_micros;
}

// ---- rendering ----

namespace {

// A label value in the text format: `\`, `"` and newline escaped, and valid UTF-8, since
// Prometheus refuses the whole scrape over one value that is not. A request path may carry any
// byte (Beast accepts obs-text in the target), so each byte that does not start a valid
// sequence becomes U+FFFD (found by fuzzing).
std::string escape(std::string_view raw) {
    const std::string repaired =
        core::is_valid_utf8(raw) ? std::string() : core::utf8_repaired(raw);
    const std::string_view v = repaired.empty() ? raw : std::string_view(repaired);
    std::string out;
    out.reserve(v.size());
    for (const char ch : v) {
        if (ch == '\\' || ch == '"') {
            out += '\\';
            out += ch;
        } else if (ch == '\n') {
            out += "\\n";
        } else {
            out += ch;
        }
    }
    return out;
}

std::string number(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : "0";
}

constexpr std::string_view prefix = "ditto_gateway_proxy_";

class writer {
  public:
    void head(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_.append(prefix).append(name).append(" ").append(help).append("\n# TYPE ");
        out_.append(prefix).append(name).append(" ").append(type).append("\n");
    }
    void sample(std::string_view name, std::string_view labels, const std::string& value) {
        out_.append(prefix).append(name);
        if (!labels.empty())
            out_.append("{").append(labels).append("}");
        out_.append(" ").append(value).append("\n");
    }
    template <class T>
    void plain(std::string_view name, std::string_view type, std::string_view help, T v) {
        head(name, type, help);
        sample(name, "", std::to_string(v));
    }
    template <class T>
    void labeled(std::string_view name, std::string_view type, std::string_view help,
                 std::string_view label, const std::map<std::string, T>& values) {
        head(name, type, help);
        for (const auto& [k, v] : values)
            sample(name, std::string(label) + "=\"" + escape(k) + "\"", std::to_string(v));
    }
    template <std::size_t N>
    void hist_series(std::string_view name, const std::string& labels, const histogram<N>& h,
                     const std::array<double, N>& bounds) {
        std::uint64_t cum = 0;
        const std::string sep = labels.empty() ? "" : labels + ",";
        for (std::size_t i = 0; i < N; ++i) {
            cum += h.buckets[i];
            sample(std::string(name) + "_bucket", sep + "le=\"" + number(bounds[i]) + "\"",
                   std::to_string(cum));
        }
        sample(std::string(name) + "_bucket", sep + "le=\"+Inf\"", std::to_string(h.count));
        sample(std::string(name) + "_sum", labels, number(h.sum));
        sample(std::string(name) + "_count", labels, std::to_string(h.count));
    }
    std::string& text() { return out_; }

  private:
    std::string out_;
};

std::map<std::string, std::uint64_t> up_gauges(const std::vector<backend_gauge>& backends,
                                               bool breaker) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& b : backends)
        out[b.name] = breaker ? (b.breaker_open ? 1 : 0) : (b.up ? 1 : 0);
    return out;
}

// `budget_used` and `budget_limit` by scope, id and unit (docs/observability.md).
void budget_gauges(writer& w, const std::vector<budget_gauge>& budgets) {
    const std::pair<const char*, const char*> families[] = {
        {"budget_used", "Spent plus reserved in each budget's current period (ours)."},
        {"budget_limit", "Each budget's limit in its current period (ours)."}};
    for (const auto& [name, help] : families) {
        w.head(name, "gauge", help);
        const bool used = std::string_view(name) == "budget_used";
        for (const auto& b : budgets) {
            w.sample(name,
                     "scope=\"" + escape(b.scope) + "\",id=\"" + escape(b.id) + "\",unit=\"" +
                         escape(b.unit) + "\"",
                     std::to_string(used ? b.used : b.limit));
        }
    }
}

template <class M>
std::map<std::string, typename M::mapped_type> merged(
    const std::vector<std::unique_ptr<prometheus::shard>>& shards,
    const std::function<const M&(const prometheus::shard&)>& pick) {
    std::map<std::string, typename M::mapped_type> out;
    for (const auto& s : shards) {
        for (const auto& [k, v] : pick(*s))
            out[k] += v;
    }
    return out;
}

}  // namespace

std::string prometheus::render(const scrape_sources& extra) const {
    // Lock every shard for the copy: a scrape is rare, a request holds a shard for ~1 µs.
    std::vector<std::unique_lock<std::mutex>> locks;
    for (const auto& s : shards_)
        locks.emplace_back(s->mu);
    auto total = [this](auto member) {
        std::uint64_t n = 0;
        for (const auto& s : shards_)
            n += member(*s);
        return n;
    };
    using cm = counter_map;
    auto counters = [this](auto member) {
        return merged<cm>(shards_, [member](const shard& s) -> const cm& { return member(s); });
    };
    writer w;
    w.plain("requests_total", "counter", "Proxied requests.",
            total([](const shard& s) { return s.requests; }));
    const std::array<std::string_view, 3> by_names = {"key", "model", "path"};
    const std::array<std::string_view, 3> by_labels = {"virtual_key_id", "model", "path"};
    for (std::size_t i = 0; i < 3; ++i) {
        w.labeled("requests_by_" + std::string(by_names[i]) + "_total", "counter",
                  "Proxied requests by " + std::string(by_labels[i]) + ".", by_labels[i],
                  counters([i](const shard& s) -> const cm& { return s.requests_by[i]; }));
    }
    const std::array<std::string_view, 3> blocked_names = {"rate_limited", "guardrail_blocked",
                                                           "budget_exceeded"};
    for (std::size_t b = 0; b < 3; ++b) {
        const std::string base(blocked_names[b]);
        w.plain(base + "_total", "counter", "Requests refused: " + base + ".",
                total([b](const shard& s) { return s.blocked[b]; }));
        for (std::size_t i = 0; i < 3; ++i) {
            w.labeled(base + "_by_" + std::string(by_names[i]) + "_total", "counter",
                      "Requests refused (" + base + ") by " + std::string(by_labels[i]) + ".",
                      by_labels[i],
                      counters([b, i](const shard& s) -> const cm& { return s.blocked_by[b][i]; }));
        }
    }
    w.plain("cache_lookups_total", "counter", "Cache lookups.",
            total([](const shard& s) { return s.cache_lookups; }));
    w.plain("cache_misses_total", "counter", "Cache misses.",
            total([](const shard& s) { return s.cache_misses; }));
    w.plain("cache_hits_total", "counter", "Cache hits.",
            total([](const shard& s) { return s.cache_hits; }));
    w.labeled("cache_lookups_by_path_total", "counter", "Cache lookups by path.", "path",
              counters([](const shard& s) -> const cm& { return s.cache_lookups_by_path; }));
    w.labeled("cache_misses_by_path_total", "counter", "Cache misses by path.", "path",
              counters([](const shard& s) -> const cm& { return s.cache_misses_by_path; }));
    w.labeled("cache_hits_by_path_total", "counter", "Cache hits by path.", "path",
              counters([](const shard& s) -> const cm& { return s.cache_hits_by_path; }));
    w.labeled("cache_hits_by_source_total", "counter", "Cache hits by tier.", "source",
              counters([](const shard& s) -> const cm& { return s.cache_hits_by_source; }));
    w.labeled<std::uint64_t>(
        "cache_stores_total", "counter", "Answers stored in the cache by tier.", "target",
        {{"memory", extra.cache_stores_memory}, {"redis", extra.cache_stores_redis}});
    w.labeled<std::uint64_t>("cache_store_errors_total", "counter", "Failed cache stores by tier.",
                             "target", {{"redis", extra.cache_store_errors_redis}});
    w.labeled<std::uint64_t>("cache_purges_total", "counter", "Cache purges by kind.", "scope",
                             {{"all", extra.cache_purges_all},
                              {"key", extra.cache_purges_key},
                              {"selector", extra.cache_purges_selector}});
    w.labeled<std::uint64_t>("backend_up", "gauge",
                             "1 while this replica routes to the backend: not ejected, not failing "
                             "its health check (ours).",
                             "backend", up_gauges(extra.backends, false));
    w.labeled<std::uint64_t>("backend_breaker_open", "gauge",
                             "1 while the circuit breaker has the backend ejected (ours).",
                             "backend", up_gauges(extra.backends, true));
    if (extra.redis_up)
        w.plain("redis_up", "gauge", "1 while Redis answers its health check (ours).",
                *extra.redis_up ? 1 : 0);
    budget_gauges(w, extra.budgets);
    if (!extra.router_versions.empty()) {
        w.head("router_version_share", "gauge",
               "The share of requests (percent) each router version routes: the stable one "
               "and a canary (ours).");
        for (const auto& [version, role, percent] : extra.router_versions) {
            char buf[32];
            const auto end = std::to_chars(buf, buf + sizeof buf, percent).ptr;
            w.sample("router_version_share",
                     "router_version=\"" + escape(version) + "\",role=\"" + role + "\"",
                     std::string(buf, end));
        }
    }
    if (extra.tracing) {
        w.plain("trace_spans_exported_total", "counter",
                "Spans the OTLP collector accepted (ours).", extra.trace_spans_exported);
        w.labeled<std::uint64_t>("trace_spans_dropped_total", "counter",
                                 "Spans dropped: a full export queue or a failed export (ours).",
                                 "reason",
                                 {{"queue_full", extra.trace_spans_dropped_full},
                                  {"export_failed", extra.trace_spans_dropped_failed}});
    }
    w.labeled("backend_attempts_total", "counter", "Upstream attempts.", "backend",
              counters([](const shard& s) -> const cm& { return s.backend_attempts; }));
    w.labeled("backend_success_total", "counter", "Upstream attempts that were not failures.",
              "backend", counters([](const shard& s) -> const cm& { return s.backend_success; }));
    w.labeled("backend_failures_total", "counter",
              "Upstream attempts that failed (transport error or 5xx).", "backend",
              counters([](const shard& s) -> const cm& { return s.backend_failures; }));
    const std::array<std::string_view, 4> stream_names = {"bytes", "completed", "errors",
                                                          "aborted"};
    for (std::size_t i = 0; i < 4; ++i) {
        const std::string base = "stream_" + std::string(stream_names[i]);
        w.plain(base + "_total", "counter", "Streamed responses: " + base + ".",
                total([i](const shard& s) { return s.stream[i]; }));
        w.labeled(base + "_by_backend_total", "counter", base + " by backend.", "backend",
                  counters([i](const shard& s) -> const cm& { return s.stream_by_backend[i]; }));
        w.labeled(base + "_by_path_total", "counter", base + " by path.", "path",
                  counters([i](const shard& s) -> const cm& { return s.stream_by_path[i]; }));
    }
    {
        std::map<std::string, std::uint64_t> statuses;
        for (const auto& s : shards_)
            for (const auto& [st, n] : s->responses)
                statuses[std::to_string(st)] += n;
        w.labeled("responses_total", "counter", "Responses by status.", "status", statuses);
    }
    const std::array<std::string_view, 4> resp_names = {"path", "backend", "model",
                                                        "router_version"};
    for (std::size_t i = 0; i < 4; ++i) {
        const std::string name = "responses_by_" + std::string(resp_names[i]) + "_status_total";
        w.head(name, "counter", "Responses by " + std::string(resp_names[i]) + " and status.");
        std::map<std::pair<std::string, unsigned>, std::uint64_t> all;
        for (const auto& s : shards_)
            for (const auto& [label, by_status] : s->responses_by[i])
                for (const auto& [st, n] : by_status)
                    all[{label, st}] += n;
        for (const auto& [k, n] : all) {
            w.sample(name,
                     std::string(resp_names[i]) + "=\"" + escape(k.first) + "\",status=\"" +
                         std::to_string(k.second) + "\"",
                     std::to_string(n));
        }
    }
    w.labeled<std::uint64_t>("backend_in_flight", "gauge", "Upstream requests in flight.",
                             "backend",
                             {extra.backend_in_flight.begin(), extra.backend_in_flight.end()});
    w.labeled<std::uint64_t>(
        "backend_connections_desynced_total", "counter",
        "Upstream connections closed for bytes past a complete answer (ours).", "backend",
        {extra.backend_connections_desynced.begin(), extra.backend_connections_desynced.end()});
    {
        std::int64_t conns = 0;
        std::map<std::string, std::int64_t> by_backend, by_path;
        for (const auto& s : shards_) {
            conns += s->stream_connections;
            for (const auto& [k, v] : s->stream_connections_by_backend)
                by_backend[k] += v;
            for (const auto& [k, v] : s->stream_connections_by_path)
                by_path[k] += v;
        }
        w.plain("stream_connections", "gauge", "Streams being relayed.", conns);
        w.labeled("stream_connections_by_backend", "gauge", "Streams being relayed by backend.",
                  "backend", by_backend);
        w.labeled("stream_connections_by_path", "gauge", "Streams being relayed by path.", "path",
                  by_path);
    }
    const std::array<std::pair<std::string_view, std::string_view>, 4> hists = {
        {{"backend_request_duration_seconds", "backend"},
         {"request_duration_seconds", "path"},
         {"request_duration_seconds_by_model", "model"},
         {"request_duration_seconds_by_router_version", "router_version"}}};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto [name, label] = hists[i];
        w.head(name, "histogram",
               i == 0 ? "Upstream time to the response head."
                      : "Time from the request to its response head.");
        std::map<std::string, duration_hist> all;
        for (const auto& s : shards_) {
            const auto& m = i == 0   ? s->backend_duration
                            : i == 1 ? s->request_duration_by_path
                            : i == 2 ? s->request_duration_by_model
                                     : s->request_duration_by_router_version;
            for (const auto& [k, h] : m)
                all[k].merge(h);
        }
        for (const auto& [k, h] : all)
            w.hist_series(name, std::string(label) + "=\"" + escape(k) + "\"", h, duration_buckets);
    }
    {
        histogram<overhead_buckets.size()> h;
        for (const auto& s : shards_)
            h.merge(s->overhead);
        w.head("overhead_seconds", "histogram",
               "Time spent in the gateway per request, upstream time excluded (ours).");
        w.hist_series("overhead_seconds", "", h, overhead_buckets);
    }
    const std::array<std::pair<std::string_view, std::string_view>, 3> usage_families = {
        {{"input_tokens_total", "Input tokens reported by upstreams (ours)."},
         {"output_tokens_total", "Output tokens reported by upstreams (ours)."},
         {"cost_usd_micros_total", "Cost charged, in micro-dollars (ours)."}}};
    for (std::size_t i = 0; i < 3; ++i) {
        w.head(usage_families[i].first, "counter", usage_families[i].second);
        std::map<std::string, std::uint64_t> all;
        for (const auto& s : shards_) {
            const auto& m = i == 0 ? s->tokens_in : i == 1 ? s->tokens_out : s->cost;
            for (const auto& [k, v] : m)
                all[k] += v;
        }
        for (const auto& [k, v] : all) {
            const auto [key, model] = split_usage_key(k);
            w.sample(usage_families[i].first,
                     "virtual_key_id=\"" + escape(key) + "\",model=\"" + escape(model) + "\"",
                     std::to_string(v));
        }
    }
    return std::move(w.text());
}

}  // namespace ditto::metrics
