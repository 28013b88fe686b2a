// Env expansion and secret references for the few config fields docs/configuration.md names.
//
// When can `env var is empty: NAME` happen? A blank process value counts as unset and
// parse_dotenv drops blank values, so through the normal path a variable is either missing or
// non-blank. The message is still produced whenever a lookup yields a blank value: an
// env_lookup built from a map that holds one (tests, embedders). The rule is simple: a value
// that is set but blank after trimming is "empty"; one that is not set is "missing".
//
// Error messages name variables, fields and files, never a resolved value: the values these
// fields hold are credentials.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/config/load.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

constexpr std::string_view k_os_environ_prefix = "os.environ/";
constexpr std::string_view k_secret_prefix = "secret://";
// A secret file is a token or a key, not a document; the cap keeps a wrong path (a log, a
// device) from being read whole into memory.
constexpr std::size_t k_max_secret_file_bytes = 1024 * 1024;

bool is_valid_env_name(std::string_view name) {
    if (name.empty())
        return false;
    auto alpha = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    };
    if (!alpha(name.front()))
        return false;
    for (char c : name) {
        if (!alpha(c) && !(c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/// Resolves one variable name (already trimmed) to a non-blank value.
std::optional<std::string> lookup_var(std::string_view name, const env_lookup& env,
                                      std::string& error) {
    if (name.empty()) {
        error = "empty env placeholder";
        return std::nullopt;
    }
    if (!is_valid_env_name(name)) {
        error = "invalid env var name \"" + std::string(name) + "\"";
        return std::nullopt;
    }
    auto value = env.get(std::string(name));
    if (!value) {
        error = "missing env var: " + std::string(name);
        return std::nullopt;
    }
    if (core::trim(*value).empty()) {
        error = "env var is empty: " + std::string(name);
        return std::nullopt;
    }
    return value;
}

/// A placeholder as written (`${NAME}`, `os.environ/NAME`) that was replaced by its value.
struct substitution {
    std::string placeholder;
};

/// `os.environ/NAME` (whole trimmed value) or any number of `${NAME}`. The substituted text
/// is not scanned again, so a value containing `${` is inserted literally. Each substitution
/// is recorded in `subs`.
std::optional<std::string> expand_placeholders(std::string_view value, const env_lookup& env,
                                               std::string& error,
                                               std::vector<substitution>& subs) {
    const std::string_view trimmed = core::trim(value);
    if (trimmed.starts_with(k_os_environ_prefix)) {
        auto resolved =
            lookup_var(core::trim(trimmed.substr(k_os_environ_prefix.size())), env, error);
        if (resolved)
            subs.push_back({std::string(trimmed)});
        return resolved;
    }

    std::string out;
    out.reserve(value.size());
    std::size_t pos = 0;
    while (true) {
        const std::size_t start = value.find("${", pos);
        if (start == std::string_view::npos) {
            out.append(value.substr(pos));
            return out;
        }
        const std::size_t end = value.find('}', start + 2);
        if (end == std::string_view::npos) {
            error = "unterminated env placeholder";
            return std::nullopt;
        }
        auto resolved =
            lookup_var(core::trim(value.substr(start + 2, end - start - 2)), env, error);
        if (!resolved)
            return std::nullopt;
        out.append(value.substr(pos, start - pos));
        out.append(*resolved);
        subs.push_back({std::string(value.substr(start, end + 1 - start))});
        pos = end + 1;
    }
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& reason) {
    if (path.empty() || path.front() != '/') {
        reason = "secret file path must be absolute";
        return std::nullopt;
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        reason = "cannot read secret file " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string data;
    char buf[4096];
    bool too_large = false;
    while (true) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, f);
        data.append(buf, n);
        if (data.size() > k_max_secret_file_bytes) {
            too_large = true;
            break;
        }
        if (n < sizeof buf)
            break;
    }
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) {
        reason = "cannot read secret file " + path + ": " + std::strerror(err);
        return std::nullopt;
    }
    if (too_large) {
        reason = "secret file " + path + " is larger than 1 MiB";
        return std::nullopt;
    }
    // Files written by `echo` or editors end in a newline that is not part of the secret.
    while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' ' ||
                             data.back() == '\t')) {
        data.pop_back();
    }
    if (core::trim(data).empty()) {
        reason = "secret file is empty: " + path;
        return std::nullopt;
    }
    return data;
}

/// `secret://env/NAME` or `secret://file?path=/abs/path`; `reason` never holds the value.
std::optional<std::string> resolve_secret(std::string_view spec, const env_lookup& env,
                                          std::string& reason) {
    const std::string_view rest = spec.substr(k_secret_prefix.size());
    if (rest.starts_with("env/")) {
        return lookup_var(core::trim(rest.substr(4)), env, reason);
    }
    if (rest.starts_with("file?")) {
        std::string_view query = rest.substr(5);
        while (!query.empty()) {
            const std::size_t amp = query.find('&');
            const std::string_view pair = query.substr(0, amp);
            if (pair.starts_with("path=")) {
                return read_secret_file(core::percent_decode(pair.substr(5)), reason);
            }
            if (amp == std::string_view::npos)
                break;
            query.remove_prefix(amp + 1);
        }
        reason = "secret://file requires a path parameter (secret://file?path=/abs/path)";
        return std::nullopt;
    }
    reason =
        "unsupported secret reference (expected secret://env/NAME or "
        "secret://file?path=/abs/path)";
    return std::nullopt;
}

/// A secret reference can be built from placeholders (`secret://file?path=${DIR}/key`). The
/// reason it failed quotes the name or path it read, after trimming and percent-decoding, so it
/// would show the substituted values in some form: a mistaken `secret://env/${API_KEY}` printed
/// the key (found by fuzzing). Such a failure names the placeholders instead.
std::string withheld_reason(const std::vector<substitution>& subs) {
    std::string names;
    for (const auto& s : subs) {
        if (names.find(s.placeholder) != std::string::npos)
            continue;
        names += (names.empty() ? "" : ", ") + s.placeholder;
    }
    return "the reference built from " + names +
           " does not resolve (the reason is withheld: it would show their values)";
}

struct expand_result {
    std::optional<std::string> value;
    std::string error;
    bool secret_error = false;  ///< the message already names the field
};

expand_result expand_field(std::string_view value, const env_lookup& env, std::string_view label) {
    expand_result r;
    std::vector<substitution> subs;
    r.value = expand_placeholders(value, env, r.error, subs);
    if (!r.value)
        return r;
    const std::string_view trimmed = core::trim(*r.value);
    if (!trimmed.starts_with(k_secret_prefix))
        return r;
    std::string reason;
    auto secret = resolve_secret(trimmed, env, reason);
    if (!secret) {
        r.value.reset();
        r.error = "failed to resolve secret for " + std::string(label) + ": " +
                  (subs.empty() ? reason : withheld_reason(subs));
        r.secret_error = true;
        return r;
    }
    r.value = std::move(secret);
    return r;
}

}  // namespace

std::optional<std::string> env_lookup::get(const std::string& name) const {
    if (auto it = dotenv_.find(name); it != dotenv_.end())
        return it->second;
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || core::trim(value).empty())
        return std::nullopt;
    return std::string(value);
}

std::map<std::string, std::string> parse_dotenv(std::string_view text) {
    std::map<std::string, std::string> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        // trim() also drops the '\r' of CRLF files.
        std::string_view line = core::trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

        if (line.empty() || line.front() == '#')
            continue;
        if (line.starts_with("export "))
            line = core::trim(line.substr(7));
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos)
            continue;
        const std::string_view key = core::trim(line.substr(0, eq));
        if (key.empty())
            continue;
        std::string_view value = core::trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        if (core::trim(value).empty())
            continue;
        out[std::string(key)] = std::string(value);
    }
    return out;
}

std::optional<std::string> expand_value(std::string_view value, const env_lookup& env,
                                        std::string& error) {
    return expand_value(value, env, "value", error);
}

std::optional<std::string> expand_value(std::string_view value, const env_lookup& env,
                                        std::string_view label, std::string& error) {
    auto r = expand_field(value, env, label);
    if (!r.value)
        error = std::move(r.error);
    return std::move(r.value);
}

namespace {

// True when expand_field could change `value`: most tokens are literals, and a million of
// them should not each get a copy and a path string.
bool needs_expansion(std::string_view value) {
    const std::string_view trimmed = core::trim(value);
    return value.find("${") != std::string_view::npos || trimmed.starts_with(k_os_environ_prefix) ||
           trimmed.starts_with(k_secret_prefix);
}

}  // namespace

void expand_env(gateway_config& cfg, const env_lookup& env, diagnostics& diag) {
    auto expand = [&](std::string& field, const std::string& path) -> bool {
        auto r = expand_field(field, env, path);
        if (!r.value) {
            diag.errors.push_back(r.secret_error ? std::move(r.error) : path + ": " + r.error);
            return false;
        }
        field = std::move(*r.value);
        return true;
    };

    for (std::size_t i = 0; i < cfg.backends.size(); ++i) {
        backend_config& b = cfg.backends[i];
        const std::string prefix = "backends[" + std::to_string(i) + "]";
        expand(b.base_url, prefix + ".base_url");
        for (auto& [name, value] : b.headers)
            expand(value, prefix + ".headers." + name);
        for (auto& [name, value] : b.query_params) {
            // Query values are trimmed (docs/configuration.md); an expanded value is trimmed like a
            // literal one.
            if (expand(value, prefix + ".query_params." + name)) {
                value = std::string(core::trim(value));
            }
        }
    }
    for (std::size_t i = 0; i < cfg.virtual_keys.size(); ++i) {
        if (needs_expansion(cfg.virtual_keys[i].token))
            expand(cfg.virtual_keys[i].token, "virtual_keys[" + std::to_string(i) + "].token");
    }
}

}  // namespace ditto::config
