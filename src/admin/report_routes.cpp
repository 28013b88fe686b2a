// Reports and operations (docs/admin-api.md): audit (list, hash-chained export), budget and cost
// ledgers with their tenant/project/user views, reservation reaping, cache purge.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "body.hpp"
#include "ditto/cache/response_cache.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/core/json_writer.hpp"
#include "ditto/core/rfc3339.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/middleware/budget_periods.hpp"
#include "ditto/middleware/scopes.hpp"
#include "ditto/store/period_scope.hpp"
#include "routes.hpp"

namespace ditto::admin {

namespace net = boost::asio;
using http::status;

namespace {

std::optional<std::int64_t> int_param(const call& c, const std::string& name, bool& bad) {
    auto v = c.param(name);
    if (!v)
        return std::nullopt;
    try {
        std::size_t used = 0;
        const auto n = std::stoll(*v, &used);
        if (used == v->size())
            return n;
    } catch (...) {
    }
    bad = true;
    return std::nullopt;
}

// The record's tenant, for tenant-scoped readers.
std::optional<std::string> tenant_of(const std::string& payload) {
    auto doc = nlohmann::json::parse(payload, nullptr, false);
    if (!doc.is_object())
        return std::nullopt;
    auto it = doc.find("tenant_id");
    if (it == doc.end() || !it->is_string())
        return std::nullopt;
    return it->get<std::string>();
}

net::awaitable<std::vector<store::audit_record>> visible_records(const parts& p, const call& c,
                                                                 store::audit_query q) {
    auto records = co_await p.store.audit->list(q);
    if (c.who.tenant_scoped()) {
        std::erase_if(records, [&c](const store::audit_record& r) {
            return tenant_of(r.payload_json) != c.who.tenant;
        });
    }
    co_return records;
}

// `{"id":…,"ts_ms":…,"kind":"…","payload":{…}}`: the canonical record text the hash chain
// covers (docs/admin-api.md shows how to verify it).
std::string record_json(const store::audit_record& r) {
    core::json_object_writer w;
    w.num("id", r.id)
        .num("ts_ms", static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.ts_ms)))
        .str("kind", r.kind)
        .raw("payload", r.payload_json.empty() ? "{}" : r.payload_json);
    return w.finish();
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"')
            out += '"';
        out += ch;
    }
    return out + "\"";
}

// What a tenant reader may see of the ledgers: its keys and its own scopes (a period's
// ledger is its scope's).
bool tenant_visible(std::string_view scope_id, const std::string& tenant,
                    const std::map<std::string, const config::virtual_key_config*>& keys) {
    const auto period = store::split_period_scope(scope_id);
    std::string scope(period ? period->scope : scope_id);
    if (const auto model = scope.find("#model:"); model != std::string::npos)
        scope.resize(model);  // a key's model_limits entry is the key's
    if (scope == "tenant:" + tenant || scope.starts_with("tenant:" + tenant + ":"))
        return true;
    auto k = keys.find(scope);
    return k != keys.end() && k->second->tenant_id == tenant;
}

// A selector field of another type is refused, not ignored: ignoring it could widen the
// purge to entries the caller did not name.
void check_selector_types(const call& c, body_doc& b) {
    static constexpr std::array<const char*, 5> names = {"cache_key", "scope", "method", "path",
                                                         "model"};
    for (const char* name : names) {
        auto it = b.doc.find(name);
        if (!b.error && it != b.doc.end() && !it->is_string())
            b.error =
                error_reply(c, 400, "invalid_request", std::string(name) + " must be a string");
    }
}

}  // namespace

namespace {

// The audit list's filters: the caller's tenant, and a kind prefix.
bool kept(const call& c, const std::string& kind, const store::audit_record& r) {
    if (c.who.tenant_scoped() && tenant_of(r.payload_json) != c.who.tenant)
        return false;
    return r.kind.starts_with(kind);
}

}  // namespace

net::awaitable<reply> audit_list(const parts& p, const call& c) {
    auto limit = uint_param(c, "limit", 100, 1, 1000);
    if (limit.error)
        co_return std::move(*limit.error);
    bool bad = false;
    store::audit_query q;
    q.limit = limit.value;
    q.since_ts_ms = int_param(c, "since_ts_ms", bad);
    q.before_ts_ms = int_param(c, "before_ts_ms", bad);
    if (bad) {
        co_return error_reply(c, 400, "invalid_request",
                              "since_ts_ms and before_ts_ms must be integers");
    }
    // `kind`: records whose kind starts with it (`admin.key.` for every key change).
    const auto kind = c.param("kind").value_or("");
    std::vector<store::audit_record> records;
    if (!c.who.tenant_scoped() && kind.empty()) {
        records = co_await p.store.audit->list(q);
    } else {
        // Filtered here: pages of 10,000 back through the window until `limit` records pass,
        // at most 100,000 read (request records share the log: an admin change an hour old
        // lies under many of them).
        q.limit = 10'000;
        std::set<std::uint64_t> seen;
        for (int round = 0; round < 10 && records.size() < limit.value; ++round) {
            auto page = co_await p.store.audit->list(q);
            const bool last =
                page.size() < q.limit || page.empty() || page.front().ts_ms == page.back().ts_ms;
            if (!page.empty())
                q.before_ts_ms = page.back().ts_ms + 1;  // that millisecond again: ids dedupe
            for (auto& r : page) {
                if (seen.insert(r.id).second && kept(c, kind, r))
                    records.push_back(std::move(r));
            }
            if (last)
                break;
        }
    }
    if (records.size() > limit.value)
        records.resize(limit.value);
    std::string out = "[";
    for (const auto& r : records) {
        if (out.size() > 1)
            out += ',';
        out += record_json(r);
    }
    co_return json_reply(c, status::ok, out + "]");
}

net::awaitable<reply> audit_export(const parts& p, const call& c) {
    const auto format = c.param("format").value_or("jsonl");
    if (format != "jsonl" && format != "ndjson" && format != "csv") {
        co_return error_reply(c, 400, "invalid_request", "format must be jsonl, ndjson or csv");
    }
    auto limit = uint_param(c, "limit", 1000, 1, 10'000);
    if (limit.error)
        co_return std::move(*limit.error);
    bool bad = false;
    store::audit_query q;
    q.limit = c.who.tenant_scoped() ? 10'000 : limit.value;
    q.since_ts_ms = int_param(c, "since_ts_ms", bad);
    q.before_ts_ms = int_param(c, "before_ts_ms", bad);
    if (bad) {
        co_return error_reply(c, 400, "invalid_request",
                              "since_ts_ms and before_ts_ms must be integers");
    }
    auto records = co_await visible_records(p, c, q);
    if (records.size() > limit.value)
        records.resize(limit.value);
    // Oldest first: the chain runs in the order the records were written.
    std::reverse(records.begin(), records.end());
    const bool csv = format == "csv";
    std::string out = csv ? "id,ts_ms,kind,payload_json,prev_hash,hash\n" : "";
    std::string prev;
    for (const auto& r : records) {
        const auto canonical = record_json(r);
        const auto hash = core::sha256_hex(prev + "\n" + canonical);
        if (csv) {
            out += std::to_string(r.id) + "," + std::to_string(r.ts_ms) + "," + csv_field(r.kind) +
                   "," + csv_field(r.payload_json) + "," + prev + "," + hash + "\n";
        } else {
            out += canonical.substr(0, canonical.size() - 1);
            if (!prev.empty())
                out += ",\"prev_hash\":\"" + prev + "\"";
            out += ",\"hash\":\"" + hash + "\"}\n";
        }
        prev = hash;
    }
    co_return http::make_response(c.req, status::ok, std::move(out),
                                  csv ? "text/csv" : "application/x-ndjson");
}

net::awaitable<reply> ledgers(const parts& p, const call& c, bool costs, std::string view) {
    const auto metric = costs ? store::budget_metric::usd_micros : store::budget_metric::tokens;
    const std::string spent = costs ? "spent_usd_micros" : "spent_tokens";
    const std::string reserved = costs ? "reserved_usd_micros" : "reserved_tokens";
    auto limit = uint_param(c, "limit", 10'000, 0, 10'000);
    if (limit.error)
        co_return std::move(*limit.error);
    auto offset = uint_param(c, "offset", 0, 0, UINT64_MAX / 2);
    if (offset.error)
        co_return std::move(*offset.error);
    auto all = co_await p.store.budgets->ledgers(metric);
    const auto v = p.control->current();
    std::map<std::string, const config::virtual_key_config*> keys;
    for (const auto& k : *v->keys)
        keys[k.id] = &k;
    if (c.who.tenant_scoped()) {
        std::erase_if(all, [&](const store::ledger_entry& e) {
            return !tenant_visible(e.scope_id, c.who.tenant, keys);
        });
    }

    if (view.empty()) {
        // A period's ledger shows as its scope's, in its period only (docs/governance.md,
        // "Budget periods"); past periods' with periods=all.
        const auto periods = c.param("periods").value_or("current");
        if (periods != "current" && periods != "all")
            co_return error_reply(c, 400, "invalid_request", "periods must be current or all");
        const auto now = middleware::calendar_now_ms() / 1000;
        std::erase_if(all, [now, &periods](const store::ledger_entry& e) {
            const auto period = store::split_period_scope(e.scope_id);
            return period && periods == "current" && (now < period->start || now >= period->end);
        });
        const auto budgets = middleware::budgets_by_scope(*v->keys);
        const std::string limit_name = costs ? "limit_usd_micros" : "limit_tokens";
        const std::string remaining_name = costs ? "remaining_usd_micros" : "remaining_tokens";
        const auto prefix = c.param("key_prefix").value_or("");
        std::string out = "[";
        std::uint64_t skipped = 0, shown = 0;
        for (const auto& e : all) {
            const auto period = store::split_period_scope(e.scope_id);
            const std::string_view scope = period ? period->scope : e.scope_id;
            if (!scope.starts_with(prefix) || skipped++ < offset.value)
                continue;
            if (shown++ >= limit.value)
                break;
            core::json_object_writer w;
            w.str("key_id", scope)
                .num(spent, e.spent)
                .num(reserved, e.reserved)
                .num("updated_at_ms", static_cast<std::uint64_t>(e.updated_at_ms));
            const auto b = budgets.find(scope);
            const auto* cfg = b == budgets.end() ? nullptr : b->second;
            if (cfg && (cfg->period != config::budget_period::lifetime) != period.has_value())
                cfg = nullptr;  // not this ledger's (middleware::ledger_limit)
            const auto cap = middleware::ledger_limit(cfg, period.has_value(), costs);
            if (cap) {
                const auto used = e.spent + e.reserved;
                w.num(limit_name, *cap).num(remaining_name, used < *cap ? *cap - used : 0);
            }
            if (period) {
                if (cfg)
                    w.str("period", config::period_name(cfg->period));
                w.str("period_start", core::format_rfc3339_utc(period->start * 1000))
                    .str("resets_at", core::format_rfc3339_utc(period->end * 1000));
            }
            out += (out.size() > 1 ? "," : "") + w.finish();
        }
        co_return json_reply(c, status::ok, out + "]");
    }

    // Grouped over the per-key ledgers by the key's tenant, project or user (null: the key
    // has none, or is no longer configured). Scope ledgers (tenant:…) are not keys: skipped.
    struct group {
        std::uint64_t spent = 0, reserved = 0, keys = 0;
        std::int64_t updated = 0;
    };
    std::map<std::optional<std::string>, group> groups;
    const std::string field = view == "tenants"    ? "tenant_id"
                              : view == "projects" ? "project_id"
                                                   : "user_id";
    for (const auto& e : all) {
        if (e.scope_id.starts_with("tenant:") || e.scope_id.starts_with("project:") ||
            e.scope_id.starts_with("user:") || store::split_period_scope(e.scope_id) ||
            e.scope_id.find("#model:") != std::string::npos) {
            continue;  // a scope's ledger, a period's or a model's: grouped views sum keys'
                       // lifetime ledgers
        }
        std::optional<std::string> id;
        if (auto k = keys.find(e.scope_id); k != keys.end()) {
            id = view == "tenants"    ? k->second->tenant_id
                 : view == "projects" ? k->second->project_id
                                      : k->second->user_id;
        }
        auto& g = groups[id];
        g.spent += e.spent;
        g.reserved += e.reserved;
        g.keys += 1;
        g.updated = std::max(g.updated, e.updated_at_ms);
    }
    std::string out = "[";
    for (const auto& [id, g] : groups) {
        core::json_object_writer w;
        w.str_or_null(field, id)
            .num(spent, g.spent)
            .num(reserved, g.reserved)
            .num("key_count", g.keys)
            .num("updated_at_ms", static_cast<std::uint64_t>(g.updated));
        out += (out.size() > 1 ? "," : "") + w.finish();
    }
    co_return json_reply(c, status::ok, out + "]");
}

namespace {

// `from`/`to` of /admin/spend: RFC 3339 or unix seconds; nullopt when given and neither.
std::optional<std::int64_t> time_param(const call& c, const char* name, std::int64_t fallback) {
    const auto v = c.param(name);
    if (!v)
        return fallback;
    if (auto ms = core::parse_rfc3339_ms(*v))
        return *ms / 1000 - (*ms % 1000 < 0 ? 1 : 0);
    std::int64_t s = 0;
    const auto r = std::from_chars(v->data(), v->data() + v->size(), s);
    if (r.ec != std::errc{} || r.ptr != v->data() + v->size())
        return std::nullopt;
    return s;
}

constexpr std::array<std::string_view, 5> spend_dimensions = {"key", "model", "tenant", "project",
                                                              "user"};

const std::string& dimension(const store::spend_dims_parts& d, std::size_t i) {
    const std::string* const all[] = {&d.key, &d.model, &d.tenant, &d.project, &d.user};
    return *all[i];
}

void append_num(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// A row's grouped values, rendered once per distinct bucket row name (a thousand keys over 90
// days are 90,000 rows but a thousand names): its JSON members, its CSV columns, its sort key.
struct spend_label {
    std::string json, csv, sort;
};

// The rows summed by bucket and grouped values, in order of bucket then values: after
// `json_head`, a JSON array closed with the object; or, with no head, CSV with its header. A
// tenant reader's rows only when `tenant` is set.
std::string render_spend(const std::vector<store::spend_row>& rows,
                         const std::vector<std::size_t>& group,
                         const std::optional<std::string>& tenant, std::string_view json_head) {
    const bool csv = json_head.empty();
    std::vector<spend_label> labels;
    std::unordered_map<std::string, std::size_t> label_by_sort;
    // By the rows' names, which live as long as `rows`.
    std::unordered_map<std::string_view, std::optional<std::size_t>> label_of_dims;
    // Per bucket, the counters by label (a dense index): no map per row.
    std::map<std::int64_t, std::vector<store::spend_counters>> buckets;
    for (const auto& r : rows) {
        auto [it, fresh] = label_of_dims.try_emplace(r.dims);
        if (fresh) {
            const auto d = store::split_spend_dims(r.dims);
            if (d && (!tenant || d->tenant == *tenant)) {
                spend_label l;
                for (const auto i : group) {
                    const auto& v = dimension(*d, i);
                    core::json_object_writer w;
                    w.str(spend_dimensions[i], v);
                    auto member = w.finish();  // {"key":"…"}
                    l.json += (l.json.empty() ? "" : ",") + member.substr(1, member.size() - 2);
                    // A spreadsheet runs a cell that starts with = + - @ (the model is the
                    // client's): such a value is written with a leading '.
                    const bool formula =
                        !v.empty() && std::string_view("=+-@").find(v[0]) != std::string_view::npos;
                    l.csv += "," + csv_field(formula ? "'" + v : v);
                    l.sort += v + '\x1f';
                }
                auto [at, made] = label_by_sort.try_emplace(l.sort, labels.size());
                if (made)
                    labels.push_back(std::move(l));
                it->second = at->second;
            }
        }
        if (!it->second)
            continue;
        auto& counters = buckets[r.start];
        if (counters.size() <= *it->second)
            counters.resize(labels.size());
        counters[*it->second].add(r.c);
    }
    std::vector<std::size_t> order(labels.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(),
              [&labels](std::size_t x, std::size_t y) { return labels[x].sort < labels[y].sort; });
    std::size_t entries = 0;  // the answer's rows (sized from them, not from what was read)
    for (const auto& [start, by_label] : buckets) {
        for (const auto& c : by_label)
            entries += c.requests > 0 ? 1 : 0;
    }
    std::string out;
    out.reserve(entries * (csv ? 80 : 160) + 64);
    if (csv) {
        out = "start";
        for (const auto i : group)
            out += "," + std::string(spend_dimensions[i]);
        out += ",requests,input_tokens,output_tokens,cached_tokens,usd_micros\n";
    } else {
        out = json_head;
        out += '[';
    }
    bool first = true;
    for (const auto& [start, by_label] : buckets) {
        const auto when = core::format_rfc3339_utc(start * 1000);
        for (const auto i : order) {
            if (i >= by_label.size() || by_label[i].requests == 0)
                continue;  // no row of this label in this bucket
            const auto* l = &labels[i];
            const auto* c = &by_label[i];
            const std::uint64_t values[] = {c->requests, c->input_tokens, c->output_tokens,
                                            c->cached_tokens, c->usd_micros};
            if (csv) {
                out += when;
                out += l->csv;
                for (const auto v : values) {
                    out += ',';
                    append_num(out, v);
                }
                out += '\n';
                continue;
            }
            static constexpr std::string_view names[] = {
                "\"requests\":", ",\"input_tokens\":", ",\"output_tokens\":", ",\"cached_tokens\":",
                ",\"usd_micros\":"};
            out += first ? "{\"start\":\"" : ",{\"start\":\"";
            first = false;
            out += when;
            out += "\",";
            if (!l->json.empty()) {
                out += l->json;
                out += ',';
            }
            for (std::size_t k = 0; k < 5; ++k) {
                out += names[k];
                append_num(out, values[k]);
            }
            out += '}';
        }
    }
    if (!csv)
        out += "]}";
    return out;
}

}  // namespace

// docs/governance.md, "Spend over time": the buckets of [from, to), by hour or UTC day,
// summed over the dimensions not in group_by; a tenant reader sees its tenant's rows only.
net::awaitable<reply> spend_report(const parts& p, const call& c) {
    if (!p.store.spend) {
        co_return error_reply(c, 501, "not_supported",
                              "this store keeps no spend buckets (Redis key layout 1)");
    }
    const auto step = c.param("step").value_or("day");
    const auto format = c.param("format").value_or("json");
    if ((step != "day" && step != "hour") || (format != "json" && format != "csv"))
        co_return error_reply(c, 400, "invalid_request", "step is hour or day; format json or csv");
    const bool daily = step == "day";
    // The stores bucket by the system clock (not the calendar's test offset).
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto to = time_param(c, "to", now + 1);
    auto from = time_param(c, "from", daily ? now - 30 * 86'400 : now - 86'400);
    // Bounded before any arithmetic (year 1970 to 9999): no overflow, no endless range.
    constexpr std::int64_t latest = 253'402'300'799;
    if (from && to && (*from < 0 || *to < 0 || *from > latest || *to > latest))
        from.reset();
    if (!to || !from || *from >= *to) {
        co_return error_reply(c, 400, "invalid_request",
                              "from and to are RFC 3339 or unix seconds, from before to");
    }
    // A bound on the work a request can ask for: 31 days of hours, 400 of days.
    if (*to - *from > (daily ? 400LL * 86'400 : 31LL * 86'400)) {
        co_return error_reply(
            c, 400, "invalid_request",
            daily ? "at most 400 days a query" : "at most 31 days of hours a query");
    }
    std::vector<std::size_t> group;
    const auto by = c.param("group_by").value_or("key");
    for (std::size_t at = 0; at <= by.size();) {
        const auto comma = std::min(by.find(',', at), by.size());
        const auto name = std::string_view(by).substr(at, comma - at);
        const auto it = std::find(spend_dimensions.begin(), spend_dimensions.end(), name);
        if (it == spend_dimensions.end()) {
            co_return error_reply(c, 400, "invalid_request",
                                  "group_by is a list of key, model, tenant, project, user");
        }
        const auto i = static_cast<std::size_t>(it - spend_dimensions.begin());
        if (std::find(group.begin(), group.end(), i) == group.end())
            group.push_back(i);
        at = comma + 1;
    }
    // Whole buckets: the first and the last are read entire on both stores.
    const std::int64_t step_s = daily ? 86'400 : 3600;
    store::spend_query q{*from / step_s * step_s, (*to + step_s - 1) / step_s * step_s, daily};
    auto res = co_await p.store.spend->query(q);
    if (res.error) {
        co_return error_reply(c, 503, "store_unavailable",
                              "cannot read the spend buckets: " + res.error.message());
    }
    std::optional<std::string> tenant;
    if (c.who.tenant_scoped())
        tenant = c.who.tenant;
    if (format == "csv") {
        co_return http::make_response(c.req, status::ok, render_spend(res.rows, group, tenant, ""),
                                      "text/csv");
    }
    // Rendered into the answer's own string: a 90-day answer is megabytes, not copied again.
    const std::string head = "{\"from\":\"" + core::format_rfc3339_utc(*from * 1000) +
                             "\",\"to\":\"" + core::format_rfc3339_utc(*to * 1000) +
                             "\",\"step\":\"" + step + "\",\"rows\":";
    co_return json_reply(c, status::ok, render_spend(res.rows, group, tenant, head));
}

net::awaitable<reply> reap(const parts& p, const call& c) {
    auto body = parse_object(c, true);
    const bool dry = optional_bool(c, body, "dry_run");
    if (body.error)
        co_return std::move(*body.error);
    const auto& doc = body.doc;
    auto number = [&doc](const char* name, std::uint64_t def, std::uint64_t min,
                         std::uint64_t max) -> std::optional<std::uint64_t> {
        auto it = doc.find(name);
        if (it == doc.end())
            return def;
        if (!it->is_number_unsigned())
            return std::nullopt;
        const auto v = it->get<std::uint64_t>();
        if (v < min || v > max)
            return std::nullopt;
        return v;
    };
    const auto older = number("older_than_secs", 86'400, 0, 100ULL * 365 * 86'400);
    const auto limit = number("limit", 1000, 1, 100'000);
    if (!older || !limit) {
        co_return error_reply(c, 400, "invalid_request",
                              "older_than_secs must be a non-negative integer and limit an "
                              "integer in [1, 100000]");
    }
    auto r = co_await p.store.budgets->reap(
        std::chrono::milliseconds(static_cast<std::int64_t>(*older) * 1000), *limit, dry);
    if (r.error)
        co_return error_reply(c, 500, "storage_error", "reap failed: " + r.error.message());
    core::json_object_writer budget, cost, w;
    budget.num("scanned", r.scanned).num("reaped", r.reaped).num("released", r.released_tokens);
    cost.num("scanned", r.scanned).num("reaped", r.reaped).num("released", r.released_usd_micros);
    w.str("store", p.store.name)
        .boolean("dry_run", dry)
        .num("cutoff_ts_ms", static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.cutoff_ms)))
        .raw("budget", budget.finish())
        .raw("cost", cost.finish());
    co_return json_reply(c, status::ok, w.finish());
}

net::awaitable<reply> cache_purge(const parts& p, const call& c) {
    auto body = parse_object(c, true);
    cache::purge_selector sel;
    sel.all = optional_bool(c, body, "all");
    check_selector_types(c, body);
    if (body.error)
        co_return std::move(*body.error);
    const auto& doc = body.doc;
    auto text = [&doc](const char* name) -> std::optional<std::string> {
        auto it = doc.find(name);
        if (it == doc.end())
            return std::nullopt;
        auto v = std::string(core::trim(it->get<std::string>()));
        if (v.empty())
            return std::nullopt;
        return v;
    };
    if (!sel.all) {
        sel.cache_key = text("cache_key");
        sel.scope = text("scope");
        sel.method = text("method");
        if (sel.method) {
            for (auto& ch : *sel.method)
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        sel.path = text("path");
        if (sel.path) {
            if (auto q = sel.path->find('?'); q != std::string::npos)
                sel.path->resize(q);
        }
        sel.model = text("model");
    }
    if (sel.empty()) {
        co_return error_reply(
            c, 400, "invalid_request",
            "must set all=true or at least one of cache_key/scope/method/path/model");
    }
    auto r = co_await p.cache->purge(sel);
    core::json_object_writer w;
    w.boolean("cleared_memory", r.cleared_memory).num("deleted_memory", r.deleted_memory);
    w.num_or_null("deleted_redis", r.deleted_redis);
    if (r.redis_error)
        w.str("redis_error", *r.redis_error);
    auto result = w.finish();
    if (p.store.audit) {
        core::json_object_writer a;
        a.boolean("all", sel.all)
            .str_or_null("cache_key", sel.cache_key)
            .str_or_null("scope", sel.scope)
            .str_or_null("method", sel.method)
            .str_or_null("path", sel.path)
            .str_or_null("model", sel.model)
            .raw("result", result);
        co_await p.store.audit->append("admin.proxy_cache.purge",
                                       with_actor(a.finish(), c.who.actor_json()));
    }
    co_return json_reply(c, status::ok, std::move(result));
}

}  // namespace ditto::admin
