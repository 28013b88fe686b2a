#include "audit_record.hpp"

#include <array>
#include <charconv>

#include "ditto/core/json_scan.hpp"

namespace ditto::proxy {
namespace {

constexpr std::array<std::string_view, 32> names = {"request_id",
                                                    "virtual_key_id",
                                                    "provider",
                                                    "backend",
                                                    "attempted_backends",
                                                    "method",
                                                    "path",
                                                    "model",
                                                    "upstream_model",
                                                    "stream",
                                                    "service_tier",
                                                    "status",
                                                    "charge_tokens",
                                                    "input_tokens",
                                                    "cache_input_tokens",
                                                    "cache_creation_input_tokens",
                                                    "output_tokens",
                                                    "reasoning_tokens",
                                                    "total_tokens",
                                                    "spent_tokens",
                                                    "charge_cost_usd_micros",
                                                    "spent_cost_usd_micros",
                                                    "budget_ledgers",
                                                    "body_len",
                                                    "tenant_id",
                                                    "project_id",
                                                    "user_id",
                                                    "incomplete",
                                                    "error_type",
                                                    "error_code",
                                                    "error_message",
                                                    "router_version"};

// Appends members to one JSON object and records the string values on the side. A member's
// `,"name":` is one append; numbers are written without a temporary string.
class record {
  public:
    record(std::string& out, std::string& values) : out_(out), values_(values) {
        out_.reserve(out_.size() + 640);
        values_.reserve(values_.size() + 256);
    }

    record& str(std::string_view member, std::string_view v) {
        key(member);
        core::json_quote_into(out_, v);
        values_.append(v).push_back('\n');
        return *this;
    }
    record& str_or_null(std::string_view member, const std::optional<std::string>& v) {
        if (!v)
            return null(member);
        return str(member, *v);
    }
    record& num(std::string_view member, std::uint64_t v) {
        key(member);
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
        return *this;
    }
    record& num_or_null(std::string_view member, const std::optional<std::uint64_t>& v) {
        if (!v)
            return null(member);
        return num(member, *v);
    }
    record& yes(std::string_view member) {
        key(member);
        out_ += "true";
        return *this;
    }
    record& strings(std::string_view member, const std::vector<std::string>& list) {
        key(member);
        out_ += '[';
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (i > 0)
                out_ += ',';
            core::json_quote_into(out_, list[i]);
            values_.append(list[i]).push_back('\n');
        }
        out_ += ']';
        return *this;
    }
    record& request(const audit_request& r) {
        return str(",\"method\":", r.method)
            .str(",\"path\":", r.path)
            .str_or_null(",\"model\":", r.model);
    }
    record& owners(const audit_request& r) {
        return str_or_null(",\"tenant_id\":", r.tenant_id)
            .str_or_null(",\"project_id\":", r.project_id)
            .str_or_null(",\"user_id\":", r.user_id);
    }
    // While a canary runs (docs/routing.md, "Canary"), the version that routed the request.
    record& router(const audit_request& r) {
        if (!r.router_version.empty())
            str(",\"router_version\":", r.router_version);
        return *this;
    }
    void finish() { out_ += '}'; }

  private:
    record& null(std::string_view member) {
        key(member);
        out_ += "null";
        return *this;
    }
    // `member` is the fragment `,"name":` (the first member's is `{"name":`): one
    // append. The unit test holds every name to audit_record_names().
    void key(std::string_view fragment) { out_.append(fragment); }

    std::string& out_;
    std::string& values_;
};

}  // namespace

std::span<const std::string_view> audit_record_names() {
    return names;
}

std::string_view write_audit_record(const audit_request& r, const middleware::outcome& o,
                                    std::string& payload, std::string& values) {
    record w(payload, values);
    w.str("{\"request_id\":", r.request_id).str(",\"virtual_key_id\":", r.key_id);
    if (!o.from_upstream) {
        w.strings(",\"attempted_backends\":", o.attempted)
            .request(r)
            .num(",\"charge_tokens\":", r.charge_tokens)
            .num(",\"charge_cost_usd_micros\":", o.charge_cost_usd_micros)
            .num(",\"body_len\":", r.body_len)
            .num(",\"status\":", o.status)
            .str(",\"error_type\":", o.error_type)
            .str(",\"error_code\":", o.error_code)
            .str(",\"error_message\":", o.error_message)
            .owners(r)
            .router(r)
            .finish();
        return "proxy.error";
    }
    const auto& u = o.usage;
    w.str(",\"provider\":", r.provider)
        .str(",\"backend\":", o.backend)
        .strings(",\"attempted_backends\":", o.attempted)
        .request(r)
        .str(",\"upstream_model\":", o.upstream_model);
    if (o.streamed)
        w.yes(",\"stream\":");
    else
        w.str_or_null(",\"service_tier\":", r.service_tier);
    w.num(",\"status\":", o.status)
        .num(",\"charge_tokens\":", r.charge_tokens)
        .num_or_null(",\"input_tokens\":", u.input)
        .num_or_null(",\"cache_input_tokens\":", u.cached)
        .num_or_null(",\"cache_creation_input_tokens\":", u.creation)
        .num_or_null(",\"output_tokens\":", u.output)
        .num_or_null(",\"reasoning_tokens\":", u.reasoning)
        .num_or_null(",\"total_tokens\":", u.total_tokens())
        .num_or_null(",\"spent_tokens\":", o.spent_tokens)
        .num(",\"charge_cost_usd_micros\":", o.charge_cost_usd_micros)
        .num_or_null(",\"spent_cost_usd_micros\":", o.spent_cost_usd_micros);
    // The period ledgers the request counted in (docs/governance.md, "Budget periods").
    if (!o.budget_ledgers.empty())
        w.strings(",\"budget_ledgers\":", o.budget_ledgers);
    w.num(",\"body_len\":", r.body_len).owners(r).router(r);
    if (!o.completed)
        w.yes(",\"incomplete\":");
    w.finish();
    return "proxy";
}

}  // namespace ditto::proxy
