#include "ditto/middleware/guardrails.hpp"

#include <re2/re2.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "ditto/core/strings.hpp"
#include "ditto/router/route.hpp"

namespace ditto::middleware {
namespace {

using json = nlohmann::json;

guardrail_verdict policy(std::string message) {
    return {http::gateway_error::guardrail_rejected, std::move(message)};
}

guardrail_verdict invalid(std::string message) {
    return {http::gateway_error::invalid_request, std::move(message)};
}

re2::StringPiece piece(std::string_view s) {
    return {s.data(), s.size()};
}

std::unique_ptr<RE2> compile(const std::string& pattern, bool case_insensitive) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!case_insensitive);
    return std::make_unique<RE2>(pattern, options);
}

// The PII patterns of docs/governance.md, compiled once per process.
const RE2& email_re() {
    static const auto re =
        compile(R"(\b[A-Z0-9._%+\-]+@[A-Z0-9.\-]+\.[A-Z]{2,}\b)", /*case_insensitive=*/true);
    return *re;
}

const RE2& ssn_re() {
    static const auto re = compile(R"(\b\d{3}-\d{2}-\d{4}\b)", /*case_insensitive=*/false);
    return *re;
}

/// Blank never matches; a trailing '*' means prefix; otherwise exact equality.
bool model_matches(std::string_view model, std::string_view pattern) {
    pattern = core::trim(pattern);
    if (pattern.empty())
        return false;
    if (pattern.ends_with('*'))
        return model.starts_with(pattern.substr(0, pattern.size() - 1));
    return model == pattern;
}

// ---- JSON schema rules (docs/governance.md, "Guardrails") ----

constexpr const char* not_object = "request body must be a JSON object";

/// True when `obj[key]` is a string that is non-blank after trimming.
bool non_blank_string(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() &&
           !core::trim(it->get_ref<const std::string&>()).empty();
}

std::optional<std::string> require_model(const json& obj) {
    if (!non_blank_string(obj, "model"))
        return "missing field `model`";
    return std::nullopt;
}

std::optional<std::string> chat_schema(const json& obj) {
    if (auto e = require_model(obj))
        return e;
    auto messages = obj.find("messages");
    if (messages == obj.end() || !messages->is_array())
        return "`messages` must be an array";
    std::size_t i = 0;
    for (const auto& m : *messages) {
        const auto idx = std::to_string(i++);
        if (!m.is_object())
            return "messages[" + idx + "] must be an object";
        if (!non_blank_string(m, "role"))
            return "messages[" + idx + "].role must be a non-empty string";
        if (!m.contains("content"))
            return "messages[" + idx + "].content is required";
    }
    return std::nullopt;
}

std::optional<std::string> responses_schema(const json& obj) {
    if (auto e = require_model(obj))
        return e;
    auto input = obj.find("input");
    if (input == obj.end())
        return "missing field `input`";
    if (!(input->is_string() || input->is_array() || input->is_object()))
        return "`input` must be a string, array, or object";
    return std::nullopt;
}

/// embeddings (`input`) and completions (`prompt`): model, plus a string or array field.
std::optional<std::string> string_or_array_schema(const json& obj, const std::string& field) {
    if (auto e = require_model(obj))
        return e;
    auto it = obj.find(field);
    if (it == obj.end())
        return "missing field `" + field + "`";
    if (!(it->is_string() || it->is_array()))
        return "`" + field + "` must be a string or array";
    return std::nullopt;
}

std::optional<std::string> moderations_schema(const json& obj) {
    auto input = obj.find("input");
    if (input == obj.end())
        return "missing field `input`";
    if (input->is_null())
        return "`input` must not be null";
    if (!(input->is_string() || input->is_array() || input->is_object()))
        return "`input` must be a string, array, or object";
    return std::nullopt;
}

std::optional<std::string> images_schema(const json& obj) {
    if (!obj.contains("prompt"))
        return "missing field `prompt`";
    if (!non_blank_string(obj, "prompt"))
        return "`prompt` must be a non-empty string";
    return std::nullopt;
}

/// Every field must be a non-blank string ("missing field `f`" otherwise), in order.
std::optional<std::string> required_strings(const json& obj,
                                            std::initializer_list<const char*> fields) {
    for (const char* f : fields) {
        if (!non_blank_string(obj, f))
            return std::string("missing field `") + f + "`";
    }
    return std::nullopt;
}

std::optional<std::string> rerank_schema(const json& obj) {
    if (auto e = required_strings(obj, {"query"}))
        return e;
    auto docs = obj.find("documents");
    if (docs == obj.end())
        return "missing field `documents`";
    if (!docs->is_array())
        return "`documents` must be an array";
    return std::nullopt;
}

std::optional<std::string> json_schema(std::string_view path, const json& body) {
    using rule = std::optional<std::string> (*)(const json&);
    rule r = nullptr;
    if (path == "/v1/chat/completions") {
        r = chat_schema;
    } else if (path == "/v1/embeddings") {
        r = [](const json& o) { return string_or_array_schema(o, "input"); };
    } else if (path.starts_with("/v1/responses")) {
        r = responses_schema;
    } else if (path == "/v1/completions") {
        r = [](const json& o) { return string_or_array_schema(o, "prompt"); };
    } else if (path == "/v1/moderations") {
        r = moderations_schema;
    } else if (path == "/v1/images/generations") {
        r = images_schema;
    } else if (path == "/v1/audio/speech") {
        r = [](const json& o) { return required_strings(o, {"model", "input", "voice"}); };
    } else if (path == "/v1/rerank") {
        r = rerank_schema;
    } else if (path == "/v1/batches") {
        r = [](const json& o) {
            return required_strings(o, {"input_file_id", "endpoint", "completion_window"});
        };
    } else {
        return std::nullopt;
    }
    if (!body.is_object())
        return not_object;
    return r(body);
}

// ---- multipart (docs/governance.md, "Guardrails") ----

struct part {
    std::string name;
    bool has_filename = false;
    std::string_view data;
};

std::string_view unquote(std::string_view v) {
    v = core::trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
        return v.substr(1, v.size() - 2);
    return v;
}

/// The `boundary=` parameter of a content type (case-insensitive name, optional quotes).
std::optional<std::string_view> boundary_of(std::string_view content_type) {
    while (!content_type.empty()) {
        const auto semi = content_type.find(';');
        auto item = core::trim(content_type.substr(0, semi));
        content_type = semi == std::string_view::npos ? "" : content_type.substr(semi + 1);
        if (!core::iequals_prefix(item, "boundary="))
            continue;
        auto value = unquote(item.substr(9));
        if (!core::trim(value).empty())
            return value;
    }
    return std::nullopt;
}

/// Skips one line break (CRLF or LF) at `pos`.
std::size_t skip_newline(std::string_view b, std::size_t pos) {
    if (b.substr(pos, 2) == "\r\n")
        return pos + 2;
    if (b.substr(pos, 1) == "\n")
        return pos + 1;
    return pos;
}

/// Parses the Content-Disposition header of one part's header block.
void read_part_headers(std::string_view headers, part& out, bool& named) {
    while (!headers.empty()) {
        const auto nl = headers.find('\n');
        auto line = headers.substr(0, nl);
        headers = nl == std::string_view::npos ? "" : headers.substr(nl + 1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos ||
            !core::iequals(core::trim(line.substr(0, colon)), "content-disposition"))
            continue;
        auto value = line.substr(colon + 1);
        while (!value.empty()) {
            const auto semi = value.find(';');
            auto item = core::trim(value.substr(0, semi));
            value = semi == std::string_view::npos ? "" : value.substr(semi + 1);
            if (item.starts_with("name=")) {
                out.name = std::string(unquote(item.substr(5)));
                named = true;
            } else if (item.starts_with("filename=")) {
                out.has_filename = true;
            }
        }
    }
}

/// A small multipart/form-data parser: part names, whether a part is a file, and its data.
std::optional<std::string> parse_multipart(std::string_view content_type, std::string_view body,
                                           std::vector<part>& parts) {
    const auto boundary = boundary_of(content_type);
    if (!boundary)
        return "multipart boundary is missing";
    const std::string marker = "--" + std::string(*boundary);
    const std::string delimiter = "\r\n" + marker;
    auto cursor = body.find(marker);
    if (cursor == std::string_view::npos)
        return "multipart body missing boundary marker";
    cursor += marker.size();
    for (;;) {
        if (body.substr(cursor, 2) == "--")
            break;
        cursor = skip_newline(body, cursor);
        std::size_t headers_end = body.find("\r\n\r\n", cursor);
        std::size_t sep = 4;
        if (headers_end == std::string_view::npos) {
            headers_end = body.find("\n\n", cursor);
            sep = 2;
        }
        if (headers_end == std::string_view::npos)
            return "multipart part missing header separator";
        part p;
        bool named = false;
        read_part_headers(body.substr(cursor, headers_end - cursor), p, named);
        if (!named)
            return "multipart part missing content-disposition name";
        const auto data_start = headers_end + sep;
        const auto end = body.find(delimiter, data_start);
        if (end == std::string_view::npos)
            return "multipart part missing trailing boundary";
        p.data = body.substr(data_start, end - data_start);
        parts.push_back(std::move(p));
        cursor = end + delimiter.size();
        if (body.substr(cursor, 2) == "--")
            break;
        cursor = skip_newline(body, cursor);
    }
    return std::nullopt;
}

std::optional<std::string> multipart_schema(std::string_view path, std::string_view content_type,
                                            std::string_view body) {
    while (path.size() > 1 && path.ends_with('/'))
        path.remove_suffix(1);
    std::string_view endpoint;
    if (path == "/v1/audio/transcriptions")
        endpoint = "audio/transcriptions";
    else if (path == "/v1/audio/translations")
        endpoint = "audio/translations";
    else if (path == "/v1/files")
        endpoint = "files";
    else
        return std::nullopt;
    const std::string ep(endpoint);
    if (core::trim(content_type).empty())
        return ep + " request missing content-type";
    if (!core::iequals_prefix(core::trim(content_type), "multipart/form-data"))
        return ep + " request must be multipart/form-data";
    std::vector<part> parts;
    if (auto e = parse_multipart(content_type, body, parts))
        return e;
    // Audio needs `model`, files need `purpose`: a non-blank text (non-file) part.
    const char* field = endpoint == "files" ? "purpose" : "model";
    bool has_file = false, has_field = false;
    for (const auto& p : parts) {
        if (p.name == "file")
            has_file = true;
        else if (p.name == field && !p.has_filename && !core::trim(p.data).empty())
            has_field = true;
    }
    if (!has_file)
        return ep + " request missing file";
    if (!has_field)
        return ep + " request missing " + field;
    return std::nullopt;
}

}  // namespace

struct compiled_guardrails::patterns {
    struct entry {
        std::string label;  // the trimmed configured text, reported in the message
        std::unique_ptr<RE2> re;
    };
    std::vector<entry> phrases;  // literal, case-insensitive (RE2 Unicode case folding)
    std::vector<entry> regexes;  // case-insensitive
};

compiled_guardrails::compiled_guardrails(const config::guardrails_config& cfg)
    : cfg_(cfg), re_(std::make_unique<patterns>()) {
    for (const auto& raw : cfg_.banned_phrases) {
        const auto p = core::trim(raw);
        if (p.empty())
            continue;
        re_->phrases.push_back({std::string(p), compile(RE2::QuoteMeta(piece(p)), true)});
    }
    for (const auto& raw : cfg_.banned_regexes) {
        const std::string p(core::trim(raw));
        if (p.empty())
            continue;
        re_->regexes.push_back({p, compile(p, true)});
    }
    if (cfg_.block_pii) {
        (void)email_re();
        (void)ssn_re();
    }
}

compiled_guardrails::~compiled_guardrails() = default;
compiled_guardrails::compiled_guardrails(compiled_guardrails&&) noexcept = default;
compiled_guardrails& compiled_guardrails::operator=(compiled_guardrails&&) noexcept = default;

guardrail_verdict compiled_guardrails::check(const guardrail_input& in) const {
    // 1. Model deny/allow, only when a routed model exists.
    const auto model = core::trim(in.model);
    if (!model.empty()) {
        for (const auto& pat : cfg_.deny_models) {
            if (model_matches(model, pat))
                return policy("deny_model:" + pat);
        }
        if (!cfg_.allow_models.empty()) {
            bool allowed = false;
            for (const auto& pat : cfg_.allow_models)
                allowed = allowed || model_matches(model, pat);
            if (!allowed)
                return policy("model_not_allowed:" + std::string(model));
        }
    }

    // 2. max_input_tokens.
    if (cfg_.max_input_tokens && in.input_tokens > *cfg_.max_input_tokens)
        return policy("input_tokens>" + std::to_string(*cfg_.max_input_tokens));

    // 3. Schema: JSON bodies by path; non-JSON POSTs get the multipart check.
    if (cfg_.validate_schema) {
        if (in.body_is_json) {
            const auto body = json::parse(in.raw_body, nullptr, /*allow_exceptions=*/false);
            if (!body.is_discarded()) {
                if (auto e = json_schema(in.path, body))
                    return invalid(std::move(*e));
            }
        } else if (in.method == "POST") {
            if (auto e = multipart_schema(in.path, in.content_type, in.raw_body))
                return invalid(std::move(*e));
        }
    }

    // 4. Text filters on the whole raw body, only when it is valid UTF-8.
    const bool any_text = !re_->phrases.empty() || !re_->regexes.empty() || cfg_.block_pii;
    if (!any_text || !core::is_valid_utf8(in.raw_body))
        return {};
    const auto body = piece(in.raw_body);
    for (const auto& p : re_->phrases) {
        if (p.re->ok() && RE2::PartialMatch(body, *p.re))
            return policy("banned_phrase:" + p.label);
    }
    for (const auto& r : re_->regexes) {
        // Startup validation rejects bad patterns; one that slips through fails closed.
        if (!r.re->ok())
            return policy("banned_regex_invalid:" + r.label);
        if (RE2::PartialMatch(body, *r.re))
            return policy("banned_regex:" + r.label);
    }
    if (cfg_.block_pii) {
        if (RE2::PartialMatch(body, email_re()))
            return policy("pii:email");
        if (RE2::PartialMatch(body, ssn_re()))
            return policy("pii:ssn");
    }
    return {};
}

namespace {

// A hash of a guardrails value (FNV-1a over its fields with separators); equal values hash
// equal, and the index compares values on a hash match.
std::uint64_t value_hash(const config::guardrails_config& g) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 0x100000001b3ULL;
        }
        h ^= 0xff;  // not a UTF-8 byte: ends the piece, so ["ab"] and ["a","b"] differ
        h *= 0x100000001b3ULL;
    };
    auto list = [&mix](const std::vector<std::string>& v, std::string_view tag) {
        mix(tag);
        for (const auto& s : v)
            mix(s);
    };
    list(g.banned_phrases, "p");
    list(g.banned_regexes, "r");
    list(g.allow_models, "a");
    list(g.deny_models, "d");
    mix(g.block_pii ? "1" : "0");
    mix(g.validate_schema ? "1" : "0");
    mix(g.max_input_tokens ? std::to_string(*g.max_input_tokens) : std::string("-"));
    return h;
}

}  // namespace

guardrails_index::guardrails_index(const std::vector<config::virtual_key_config>& keys,
                                   const config::router_config& router)
    : router_(router), none_(config::guardrails_config{}) {
    for (const auto& k : keys) {
        if (k.guardrails == none_.config())
            continue;
        const auto h = value_hash(k.guardrails);
        if (!find(by_value_, h, k.guardrails))
            by_value_.emplace(h, std::make_unique<compiled_guardrails>(k.guardrails));
    }
    by_rule_.reserve(router_.rules.size());
    for (const auto& rule : router_.rules) {
        if (rule.guardrails)
            by_rule_.emplace_back(std::in_place, *rule.guardrails);
        else
            by_rule_.emplace_back(std::nullopt);
    }
}

guardrails_index::~guardrails_index() = default;

const compiled_guardrails* guardrails_index::find(const by_value& m, std::uint64_t h,
                                                  const config::guardrails_config& g) const {
    auto [lo, hi] = m.equal_range(h);
    for (auto it = lo; it != hi; ++it) {
        if (it->second->config() == g)
            return it->second.get();
    }
    return nullptr;
}

const compiled_guardrails& guardrails_index::select(const config::virtual_key_config& key,
                                                    std::string_view model) const {
    if (const auto* rule = rule_for(key, model))
        return *rule;
    return own(key);
}

const compiled_guardrails* guardrails_index::rule_for(const config::virtual_key_config& key,
                                                      std::string_view model) const {
    model = core::trim(model);
    if (key.route || model.empty())
        return nullptr;
    const auto* rule = router::match_rule(router_, model);
    if (!rule)
        return nullptr;
    const auto& compiled = by_rule_[static_cast<std::size_t>(rule - router_.rules.data())];
    return compiled ? &*compiled : nullptr;
}

const compiled_guardrails& guardrails_index::own(const config::virtual_key_config& key) const {
    const auto& g = key.guardrails;
    if (g == none_.config())
        return none_;
    const auto h = value_hash(g);
    if (const auto* c = find(by_value_, h, g))
        return *c;
    // A key newer than this index: compile its guardrails once and keep them.
    const std::lock_guard lock(miss_mu_);
    if (const auto* c = find(misses_, h, g))
        return *c;
    return *misses_.emplace(h, std::make_unique<compiled_guardrails>(g))->second;
}

}  // namespace ditto::middleware
