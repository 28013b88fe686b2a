// Startup validation (docs/configuration.md, "Validation messages"). Every check runs and every
// failure is collected, so one `--check-config` run lists all problems. The messages are exact and
// keep the documented order; our own backend checks (what building the upstream clients needs) come
// first.
//
// Messages never contain header values, tokens or URLs: after env expansion they may hold
// credentials.

#include <arpa/inet.h>
#include <re2/re2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/core/flat_index.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

// `…@<digits>-<digits>`: the shape of a budget period's ledger id.
bool reads_as_period(std::string_view id) {
    const auto at = id.rfind('@');
    if (at == std::string_view::npos)
        return false;
    const auto rest = id.substr(at + 1);
    const auto dash = rest.find('-');
    const auto digits = [](std::string_view s) {
        return !s.empty() &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return dash != std::string_view::npos && digits(rest.substr(0, dash)) &&
           digits(rest.substr(dash + 1));
}

std::string idx(std::string_view prefix, std::size_t i) {
    return std::string(prefix) + "[" + std::to_string(i) + "]";
}

/// RE2's error for `pattern`, or nullopt when it compiles. log_errors=false: a bad pattern is
/// reported once, through diagnostics, not also on stderr.
std::optional<std::string> regex_error(const std::string& pattern, bool case_insensitive) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!case_insensitive);
    const RE2 re(pattern, options);
    if (re.ok())
        return std::nullopt;
    return re.error();
}

/// Header names are echoed in messages; control characters are masked so a hostile name
/// cannot forge log lines.
std::string printable(std::string_view s) {
    std::string out(s);
    for (char& ch : out) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f)
            ch = '?';
    }
    return out;
}

bool is_http_url(std::string_view url) {
    std::string_view rest;
    if (core::iequals_prefix(url, "http://")) {
        rest = url.substr(7);
    } else if (core::iequals_prefix(url, "https://")) {
        rest = url.substr(8);
    } else {
        return false;
    }
    const std::size_t host_end = rest.find_first_of("/?#");
    if (rest.substr(0, host_end).empty())
        return false;
    return std::none_of(url.begin(), url.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c <= 0x20 || c == 0x7f;
    });
}

/// Empty when `path` names a readable regular file, else the reason.
std::string unreadable_reason(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::strerror(errno);
    if (S_ISDIR(st.st_mode))
        return "is a directory";
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
        return std::strerror(errno);
    std::fclose(f);
    return {};
}

constexpr std::uint64_t max_response_seconds_limit = 365ULL * 24 * 3600;

void validate_backends(const gateway_config& cfg, diagnostics& diag) {
    std::map<std::string, std::size_t, std::less<>> first_index;
    for (std::size_t i = 0; i < cfg.backends.size(); ++i) {
        const backend_config& b = cfg.backends[i];
        const std::string path = idx("backends", i);

        const std::string_view name = core::trim(b.name);
        if (name.empty()) {
            diag.errors.push_back(path + ".name cannot be empty");
        } else if (auto it = first_index.find(name); it != first_index.end()) {
            diag.errors.push_back("duplicate backend name `" + std::string(name) +
                                  "` (first at index " + std::to_string(it->second) +
                                  ", duplicate at index " + std::to_string(i) + ")");
        } else {
            first_index.emplace(std::string(name), i);
        }

        if (core::trim(b.base_url).empty()) {
            diag.errors.push_back(path + ".base_url cannot be empty");
        } else if (!is_http_url(b.base_url)) {
            diag.errors.push_back(path + ".base_url must be an http:// or https:// URL");
        }

        for (const auto& [header, value] : b.headers) {
            if (!core::is_http_token(header)) {
                diag.errors.push_back("invalid header name: " + printable(header));
            } else if (!core::is_http_field_value(value)) {
                diag.errors.push_back("invalid header value for " + header);
            }
        }

        if (b.tls_ca_file) {
            if (core::trim(*b.tls_ca_file).empty()) {
                diag.errors.push_back(path + ".tls_ca_file cannot be empty");
            } else if (auto reason = unreadable_reason(*b.tls_ca_file); !reason.empty()) {
                diag.errors.push_back(path + ".tls_ca_file: cannot read " + *b.tls_ca_file + ": " +
                                      reason);
            }
        }
        // A year: beyond it the cap means nothing, and the deadline arithmetic must not overflow.
        if (b.max_response_seconds && *b.max_response_seconds > max_response_seconds_limit) {
            diag.errors.push_back(path + ".max_response_seconds must be at most " +
                                  std::to_string(max_response_seconds_limit) + " (a year)");
        }
        if (b.tls_insecure_skip_verify) {
            diag.warnings.push_back(path +
                                    ".tls_insecure_skip_verify is set: upstream TLS certificates "
                                    "are not verified");
        }
    }
}

/// RFC 6901 pointer syntax, as the original's redactor checks it at startup.
void validate_json_pointer(std::string_view pointer, diagnostics& diag) {
    if (pointer.front() != '/') {
        diag.errors.push_back("observability.redaction.redact_json_pointers must start with '/': " +
                              std::string(pointer));
        return;
    }
    std::string_view rest = pointer.substr(1);
    while (true) {
        const std::size_t slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        for (std::size_t k = 0; k < segment.size(); ++k) {
            if (segment[k] != '~')
                continue;
            const char* problem = nullptr;
            if (k + 1 >= segment.size()) {
                problem = "dangling '~' escape";
            } else if (segment[k + 1] != '0' && segment[k + 1] != '1') {
                problem = "invalid '~' escape (expected ~0 or ~1)";
            }
            if (problem != nullptr) {
                diag.errors.push_back("invalid observability.redaction json pointer segment '" +
                                      std::string(segment) + "': " + problem);
                break;
            }
            ++k;
        }
        if (slash == std::string_view::npos)
            break;
        rest.remove_prefix(slash + 1);
    }
}

void validate_observability(const observability_config& obs, diagnostics& diag) {
    if (core::trim(obs.redaction.replacement).empty()) {
        diag.errors.push_back("observability.redaction.replacement must not be empty");
    }
    for (const std::string& raw : obs.redaction.redact_json_pointers) {
        const std::string_view pointer = core::trim(raw);
        if (!pointer.empty())
            validate_json_pointer(pointer, diag);
    }
    for (const std::string& raw : obs.redaction.redact_regexes) {
        // Blank entries are skipped, as the redactor skips them.
        const std::string pattern(core::trim(raw));
        if (pattern.empty())
            continue;
        if (auto err = regex_error(pattern, false)) {
            diag.errors.push_back("invalid observability.redaction regex '" + pattern +
                                  "': " + *err);
        }
    }
    const std::pair<const char*, double> rates[] = {
        {"json_logs_rate", obs.sampling.json_logs_rate},
        {"audit_rate", obs.sampling.audit_rate},
        {"devtools_rate", obs.sampling.devtools_rate},
        {"traces_rate", obs.sampling.traces_rate},
    };
    for (const auto& [name, rate] : rates) {
        if (!std::isfinite(rate) || rate < 0.0 || rate > 1.0) {
            diag.errors.push_back(std::string("observability.sampling.") + name +
                                  " must be a finite value between 0.0 and 1.0");
        }
    }
}

/// `prefix guardrails invalid: invalid banned_regex P: <err>` for each bad pattern. Banned
/// regexes match case-insensitively at runtime, so they are compiled that way here.
/// Patterns already compiled, with their error (if any): keys often share their guardrails,
/// and a million keys must not compile the same pattern a million times.
using regex_verdicts = std::unordered_map<std::string, std::optional<std::string>>;

void validate_guardrails(const guardrails_config& g, const std::string& prefix, diagnostics& diag,
                         regex_verdicts& seen) {
    for (const std::string& raw : g.banned_regexes) {
        const std::string pattern(core::trim(raw));
        if (pattern.empty())
            continue;
        auto it = seen.find(pattern);
        if (it == seen.end())
            it = seen.emplace(pattern, regex_error(pattern, true)).first;
        if (const auto& err = it->second) {
            diag.errors.push_back(prefix + ".guardrails invalid: invalid banned_regex " + pattern +
                                  ": " + *err);
        }
    }
}

// Flat hash indexes over the keys, and paths built only for an error: this runs over every
// key at start-up and on every Admin API change, a million keys included.
void validate_keys(const gateway_config& cfg, const std::set<std::string, std::less<>>& backends,
                   diagnostics& diag) {
    const auto& keys = cfg.virtual_keys;
    if (keys.size() >= UINT32_MAX) {
        diag.errors.push_back("too many virtual keys");
        return;
    }
    core::flat_index ids(keys.size());
    core::flat_index tokens(keys.size());
    std::vector<core::sha256_digest> digests(keys.size());
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
        const std::string_view id = core::trim(keys[i].id);
        if (id.empty()) {
            diag.errors.push_back(idx("virtual_keys", i) + ".id cannot be empty");
        } else if (const auto first =
                       ids.insert(std::hash<std::string_view>{}(id), i,
                                  [&](std::uint32_t j) { return core::trim(keys[j].id) == id; });
                   first != i) {
            diag.errors.push_back("duplicate virtual key id `" + std::string(id) +
                                  "` (first at index " + std::to_string(first) +
                                  ", duplicate at index " + std::to_string(i) + ")");
        }

        if (core::trim(keys[i].token).empty()) {
            diag.errors.push_back(idx("virtual_keys", i) + ".token cannot be empty");
        } else {
            // Compared by lookup key, so `sha256:<hex>` and the plain token it hashes collide.
            const auto& d = digests[i] = token_lookup_digest(keys[i].token);
            std::uint64_t h = 0;
            std::memcpy(&h, d.data(), sizeof h);
            const auto first =
                tokens.insert(h, i, [&](std::uint32_t j) { return digests[j] == d; });
            if (first != i) {
                diag.errors.push_back("duplicate virtual key token (first at index " +
                                      std::to_string(first) + ", duplicate at index " +
                                      std::to_string(i) + ")");
            }
        }
    }

    // Ids that would read as another scope's derived ledger (docs/governance.md): a budget
    // period's `<scope>@<start>-<end>`, a model entry's `<key>#model:<pattern>`. Allowed, one
    // key could spend another's period or model budget.
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
        const auto& k = keys[i];
        if (k.id.find("#model:") != std::string::npos)
            diag.errors.push_back(idx("virtual_keys", i) + ".id must not hold \"#model:\"");
        const std::pair<const char*, const std::string*> named[] = {
            {"id", &k.id},
            {"tenant_id", k.tenant_id ? &*k.tenant_id : nullptr},
            {"project_id", k.project_id ? &*k.project_id : nullptr},
            {"user_id", k.user_id ? &*k.user_id : nullptr}};
        for (const auto& [name, id] : named) {
            if (id != nullptr && reads_as_period(*id)) {
                diag.errors.push_back(idx("virtual_keys", i) + "." + name +
                                      " must not end in @<digits>-<digits>");
            }
        }
    }

    // Keys that share a tenant, project or user scope share its ledgers: their budgets there
    // must count in the same periods, or each key would spend up to its own limit in a ledger
    // of its own (docs/governance.md, "Budget periods").
    std::map<std::string, std::pair<budget_period, std::string>> shared;
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
        const auto& k = keys[i];
        const std::string tenant = k.tenant_id ? "tenant:" + *k.tenant_id + ":" : "";
        const std::tuple<const char*, std::string, const std::optional<budget_config>*> scopes[] = {
            {"tenant_budget", k.tenant_id ? "tenant:" + *k.tenant_id : "", &k.tenant_budget},
            {"project_budget", k.project_id ? tenant + "project:" + *k.project_id : "",
             &k.project_budget},
            {"user_budget", k.user_id ? tenant + "user:" + *k.user_id : "", &k.user_budget}};
        for (const auto& [name, scope, budget] : scopes) {
            if (scope.empty() || !*budget)
                continue;
            const std::pair<budget_period, std::string> mine{(*budget)->period,
                                                             (*budget)->timezone};
            const auto [it, first] = shared.emplace(scope, mine);
            if (!first && it->second != mine) {
                diag.errors.push_back(idx("virtual_keys", i) + "." + name +
                                      ": another key's budget for " + scope +
                                      " counts in other periods (period and timezone must agree)");
            }
        }
    }

    // A rotated-out token (docs/governance.md, "Rotation") must name no key but its own.
    std::set<core::sha256_digest> previous;
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
        if (!keys[i].previous_token)
            continue;
        const auto d = token_lookup_digest(*keys[i].previous_token);
        std::uint64_t h = 0;
        std::memcpy(&h, d.data(), sizeof h);
        if (tokens.find(h, [&](std::uint32_t j) { return digests[j] == d; }) ||
            !previous.insert(d).second) {
            diag.errors.push_back(idx("virtual_keys", i) +
                                  ".previous_token is already a token of a virtual key");
        }
    }

    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!keys[i].route)
            continue;
        const std::string_view route = core::trim(*keys[i].route);
        if (route.empty()) {
            diag.errors.push_back(idx("virtual_keys", i) + ".route cannot be empty");
        } else if (backends.find(route) == backends.end()) {
            diag.errors.push_back(idx("virtual_keys", i) +
                                  ".route references unknown backend: " + std::string(route));
        }
    }

    regex_verdicts seen;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!keys[i].guardrails.banned_regexes.empty())
            validate_guardrails(keys[i].guardrails, idx("virtual_keys", i), diag, seen);
    }
}

void validate_router(const router_config& router,
                     const std::set<std::string, std::less<>>& backends, diagnostics& diag,
                     const std::string& prefix = "router") {
    std::vector<std::string> invalid_fields;
    std::vector<std::string> unknown;
    auto reference = [&](std::string_view name) {
        if (backends.find(name) == backends.end())
            unknown.emplace_back(name);
    };

    for (std::size_t i = 0; i < router.default_backends.size(); ++i) {
        const std::string_view name = core::trim(router.default_backends[i].backend);
        if (name.empty()) {
            invalid_fields.push_back(idx(prefix + ".default_backends", i) + ".backend");
        } else {
            reference(name);
        }
    }
    for (std::size_t r = 0; r < router.rules.size(); ++r) {
        const route_rule& rule = router.rules[r];
        const std::string path = idx(prefix + ".rules", r);
        if (core::trim(rule.model_prefix).empty())
            invalid_fields.push_back(path + ".model_prefix");
        bool has_backend = false;
        if (const std::string_view legacy = core::trim(rule.backend); !legacy.empty()) {
            has_backend = true;
            reference(legacy);
        }
        for (std::size_t b = 0; b < rule.backends.size(); ++b) {
            const std::string_view name = core::trim(rule.backends[b].backend);
            if (name.empty()) {
                invalid_fields.push_back(idx(path + ".backends", b) + ".backend");
                continue;
            }
            has_backend = true;
            reference(name);
        }
        if (!has_backend) {
            invalid_fields.push_back(path + " requires `backend` or non-empty `backends[]`");
        }
    }

    if (!invalid_fields.empty()) {
        std::string msg = "invalid " + prefix + " config fields: ";
        for (std::size_t i = 0; i < invalid_fields.size(); ++i) {
            if (i > 0)
                msg += ", ";
            msg += invalid_fields[i];
        }
        diag.errors.push_back(std::move(msg));
    }
    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        unknown.erase(std::unique(unknown.begin(), unknown.end()), unknown.end());
        std::string msg = prefix + " references unknown backends: ";
        for (std::size_t i = 0; i < unknown.size(); ++i) {
            if (i > 0)
                msg += ", ";
            msg += unknown[i];
        }
        diag.errors.push_back(std::move(msg));
    }
    for (std::size_t r = 0; r < router.rules.size(); ++r) {
        if (router.rules[r].guardrails) {
            regex_verdicts seen;
            validate_guardrails(*router.rules[r].guardrails, idx(prefix + ".rules", r), diag, seen);
        }
    }
    // docs/routing.md, "Canary": the candidate routes only; guardrails change with the router.
    if (router.canary && router.canary->router) {
        const auto& c = *router.canary->router;
        validate_router(c, backends, diag, prefix + ".canary.router");
        for (std::size_t r = 0; r < c.rules.size(); ++r) {
            if (c.rules[r].guardrails) {
                diag.errors.push_back(idx(prefix + ".canary.router.rules", r) +
                                      ".guardrails: a canary changes routing only");
            }
        }
    }
}

// docs/access.md: an issuer's keys decide who is an operator, so they are fetched over TLS;
// plain http only to this machine (tests, a sidecar).
bool trusted_fetch_url(std::string_view url) {
    if (url.starts_with("https://"))
        return url.size() > 8;
    if (!url.starts_with("http://"))
        return false;
    auto host = url.substr(7);
    host = host.substr(0, host.find_first_of("/?#"));
    if (host.starts_with("[::1]"))
        return host.size() == 5 || host[5] == ':';
    return is_loopback_host(host.substr(0, host.find(':')));
}

void validate_issuer(const issuer_config& idp, const std::string& path, diagnostics& diag) {
    if (!idp.issuer.empty() && !trusted_fetch_url(idp.issuer)) {
        diag.errors.push_back(path + ".issuer must be an https:// URL (http:// only on loopback)");
    }
    if (idp.jwks_uri && !trusted_fetch_url(*idp.jwks_uri)) {
        diag.errors.push_back(path +
                              ".jwks_uri must be an https:// URL (http:// only on loopback)");
    }
}

void validate_access(const gateway_config& cfg, diagnostics& diag) {
    if (cfg.access.operators)
        validate_issuer(cfg.access.operators->idp, "access.operators", diag);
    if (!cfg.access.clients)
        return;
    validate_issuer(cfg.access.clients->idp, "access.clients", diag);
    // `jwt:<identity>` names the keys the clients' tokens make; a configured key cannot.
    for (std::size_t i = 0; i < cfg.virtual_keys.size(); ++i) {
        if (cfg.virtual_keys[i].id.starts_with("jwt:")) {
            diag.errors.push_back(idx("virtual_keys", i) +
                                  ".id must not start with \"jwt:\" while access.clients is set");
        }
    }
}

}  // namespace

void validate(const gateway_config& cfg, diagnostics& diag) {
    std::set<std::string, std::less<>> backend_names;
    for (const backend_config& b : cfg.backends) {
        const std::string_view name = core::trim(b.name);
        if (!name.empty())
            backend_names.emplace(name);
    }

    validate_backends(cfg, diag);
    validate_observability(cfg.observability, diag);
    validate_keys(cfg, backend_names, diag);
    validate_router(cfg.router, backend_names, diag);
    validate_access(cfg, diag);
}

}  // namespace ditto::config

namespace ditto::config {

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1")
        return true;
    in_addr a{};
    const std::string h(host);
    return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool is_safe_claim_id(std::string_view v) {
    return !v.empty() && v.size() <= 256 &&
           std::all_of(v.begin(), v.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; }) &&
           v.find(':') == std::string_view::npos && v.find('#') == std::string_view::npos &&
           !reads_as_period(v);
}

}  // namespace ditto::config
