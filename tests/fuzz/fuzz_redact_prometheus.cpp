// What keeps secrets and garbage out of what operators read: the redactor (observe/redactor)
// on audit payloads and log fields, and the Prometheus exposition (metrics/prometheus) with
// label values that came from requests (key ids, models, paths) through the redactor.
//
// Input: byte 0 = flags (bit 0: the custom redaction config instead of the defaults), then the
// text. The text is redacted as a JSON document; split at 0x01 bytes, its parts are also the
// label values of a few recorded requests.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/gateway_config.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/metrics/prometheus.hpp"
#include "ditto/observe/redactor.hpp"
#include "fuzz_check.hpp"

namespace {

namespace metrics = ditto::metrics;
using ditto::config::redaction_config;
using ditto::observe::redactor;

redaction_config custom_config() {
    redaction_config c;
    c.replacement = "***";
    c.redact_key_names.push_back("Ssn");
    c.redact_json_pointers = {"/messages/0/content", "/a~1b/c", "/x/~0"};
    c.redact_regexes.push_back(R"(\d{3}-\d{2}-\d{4})");
    c.sanitize_query_in_keys.push_back("callback");
    return c;
}

struct setup {
    redaction_config cfg;
    redactor r;
    std::vector<std::string> secret_names;  ///< lower case
    std::vector<std::string> query_params;  ///< lower case
    std::vector<std::string> url_keys;      ///< lower case
    explicit setup(redaction_config c) : cfg(std::move(c)), r(cfg) {
        for (const auto* list : {&cfg.redact_key_names, &cfg.redact_headers}) {
            for (const auto& n : *list)
                secret_names.push_back(ditto::core::to_lower(n));
        }
        for (const auto& n : cfg.redact_query_params)
            query_params.push_back(ditto::core::to_lower(n));
        for (const auto& n : cfg.sanitize_query_in_keys)
            url_keys.push_back(ditto::core::to_lower(n));
    }
};

bool in(const std::vector<std::string>& set, const std::string& lower) {
    for (const auto& s : set) {
        if (s == lower)
            return true;
    }
    return false;
}

// No query parameter named in the config keeps a value other than the replacement.
void check_query(const setup& s, std::string_view url) {
    const auto q = url.find('?');
    if (q == std::string_view::npos)
        return;
    auto rest = url.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos)
            continue;
        if (in(s.query_params, ditto::core::to_lower(pair.substr(0, eq))))
            FUZZ_CHECK(pair.substr(eq + 1) == s.cfg.replacement);
    }
}

// docs/observability.md, "Redaction", on a document that was valid JSON: every secret-named member,
// at any depth and in any case, holds the replacement; URL-like members hold no secret query value.
void check_redacted(const setup& s, const nlohmann::ordered_json& node) {
    if (node.is_object()) {
        for (auto it = node.begin(); it != node.end(); ++it) {
            const auto key = ditto::core::to_lower(it.key());
            if (in(s.secret_names, key)) {
                FUZZ_CHECK(it.value().is_string() &&
                           it.value().get_ref<const std::string&>() == s.cfg.replacement);
                continue;
            }
            if (in(s.url_keys, key) && it.value().is_string())
                check_query(s, it.value().get_ref<const std::string&>());
            check_redacted(s, it.value());
        }
    } else if (node.is_array()) {
        for (const auto& v : node)
            check_redacted(s, v);
    }
}

void fuzz_redactor(const setup& s, std::string_view text) {
    const std::string out = s.r.redact_json(text);
    const auto in_doc = nlohmann::ordered_json::parse(text, nullptr, false);
    if (!in_doc.is_discarded()) {
        const auto out_doc = nlohmann::ordered_json::parse(out, nullptr, false);
        FUZZ_CHECK(!out_doc.is_discarded());  // JSON in, JSON out
        check_redacted(s, out_doc);
        if (s.cfg.redact_json_pointers.empty()) {
            // Only values change: the same shape, members in the same order.
            FUZZ_CHECK(out_doc.type() == in_doc.type());
            FUZZ_CHECK(out_doc.size() == in_doc.size());
        }
    }
    for (const auto& name : s.secret_names)
        FUZZ_CHECK(s.r.redact_field(name, text) == s.cfg.replacement);
    (void)s.r.redact_field("model", text);
    (void)ditto::observe::sampled("audit", ditto::observe::sampling_identity(text), 0.5);
}

std::vector<std::string_view> split(std::string_view text) {
    std::vector<std::string_view> parts;
    while (parts.size() < 5) {
        const auto cut = text.find('\x01');
        parts.push_back(text.substr(0, cut));
        if (cut == std::string_view::npos)
            break;
        text.remove_prefix(cut + 1);
    }
    while (parts.size() < 5)
        parts.emplace_back();
    return parts;
}

// The text format 0.0.4 line by line: comments, or `name{label="value",...} number`, with
// only \\, \" and \n escapes inside values, and valid UTF-8 throughout (Prometheus rejects the
// whole scrape otherwise).
void check_exposition(std::string_view text) {
    FUZZ_CHECK(ditto::core::is_valid_utf8(text));
    FUZZ_CHECK(text.empty() || text.back() == '\n');
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE "))
            continue;
        std::size_t i = 0;
        auto name_char = [](char c, bool first) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                   (!first && c >= '0' && c <= '9');
        };
        FUZZ_CHECK(i < line.size() && name_char(line[i], true));
        while (i < line.size() && name_char(line[i], false))
            ++i;
        if (i < line.size() && line[i] == '{') {
            ++i;
            for (;;) {
                FUZZ_CHECK(i < line.size() && name_char(line[i], true));
                while (i < line.size() && name_char(line[i], false))
                    ++i;
                FUZZ_CHECK(line.substr(i, 2) == "=\"");
                i += 2;
                for (;;) {
                    FUZZ_CHECK(i < line.size());
                    const char c = line[i++];
                    if (c == '"')
                        break;
                    if (c == '\\') {
                        FUZZ_CHECK(i < line.size());
                        const char e = line[i++];
                        FUZZ_CHECK(e == '\\' || e == '"' || e == 'n');
                    }
                }
                FUZZ_CHECK(i < line.size());
                if (line[i] == '}') {
                    ++i;
                    break;
                }
                FUZZ_CHECK(line[i] == ',');
                ++i;
            }
        }
        FUZZ_CHECK(i < line.size() && line[i] == ' ');
        const auto value = line.substr(i + 1);
        FUZZ_CHECK(!value.empty() && value.find(' ') == std::string_view::npos);
    }
}

void fuzz_prometheus(const setup& s, std::string_view text) {
    const auto p = split(text);
    // Small caps, so that the overflow label is reached too.
    metrics::prometheus prom(
        {.key = 2, .model = 2, .backend = 2, .path = 2},
        [&s](std::string_view v) { return s.r.redact_text(v); }, 2);
    const metrics::attempt_record attempts[] = {{std::string(p[3]), true, false, 0.02},
                                                {std::string(p[4]), false, true, 1.5}};
    for (unsigned shard = 0; shard < 3; ++shard) {
        metrics::request_record r;
        r.authenticated = shard != 1;
        r.key_id = p[shard % 2];
        r.model = p[1];
        r.path = p[2];
        r.status = 200 + shard * 150;
        r.blocked = static_cast<metrics::blocked_by>(shard);
        r.cache = static_cast<metrics::cache_outcome>(shard + 1);
        r.backend = p[3];
        r.duration_seconds = 0.3 * shard;
        r.overhead_seconds = 0.0001;
        r.attempts = attempts;
        prom.record(shard, r);
        prom.stream_opened(shard, p[3], p[2]);
        prom.stream_closed(shard, p[3], p[2], text.size(), metrics::stream_end::completed);
        prom.usage(shard, p[0], p[1], 10, 20, 30);
        prom.usage(shard, p[4], p[3], 1, 2, 3);
    }
    metrics::scrape_sources extra;
    extra.backend_in_flight = {{std::string(p[3]), 1}, {std::string(p[4]), 2}};
    check_exposition(prom.render(extra));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const setup defaults{redaction_config{}};
    static const setup custom{custom_config()};
    if (size == 0)
        return 0;
    const setup& s = (data[0] & 1) ? custom : defaults;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    fuzz_redactor(s, text);
    fuzz_prometheus(s, text);
    return 0;
}
