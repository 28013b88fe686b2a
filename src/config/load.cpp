// Token lookup keys (docs/configuration.md) and the read → parse → expand → validate pipeline.

#include "ditto/config/load.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "ditto/core/hash.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::config {
namespace {

constexpr std::string_view k_hash_prefix = "sha256:";

bool read_file(const std::filesystem::path& path, std::string& out, std::string& error) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        error = std::strerror(errno);
        return false;
    }
    // Sized once from the file's length (a config with a million keys is 200 MB: growing
    // the string as it is read copies it several times over).
    std::error_code size_error;
    const auto size = std::filesystem::file_size(path, size_error);
    if (!size_error)
        out.reserve(static_cast<std::size_t>(size));
    char buf[64 * 1024];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        out.append(buf, n);
    // A directory opens fine on Linux and fails on the first read (EISDIR).
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) {
        error = std::strerror(err);
        return false;
    }
    return true;
}

}  // namespace

std::string token_lookup_key(std::string_view stored_token) {
    const std::string_view token = core::trim(stored_token);
    if (token.starts_with(k_hash_prefix)) {
        const std::string_view hex = token.substr(k_hash_prefix.size());
        // Either case is accepted since hex tools differ; the key itself is always lowercase
        // so that it compares equal to sha256_hex of the presented token.
        if (hex.size() == 64 && core::is_hex(hex))
            return core::to_lower(hex);
    }
    return core::sha256_hex(token);
}

core::sha256_digest token_lookup_digest(std::string_view stored_token) {
    const std::string_view token = core::trim(stored_token);
    if (token.starts_with(k_hash_prefix)) {
        const std::string_view hex = token.substr(k_hash_prefix.size());
        if (hex.size() == 64 && core::is_hex(hex)) {
            auto nibble = [](char c) {
                return static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            };
            core::sha256_digest d{};
            for (std::size_t i = 0; i < d.size(); ++i)
                d[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
            return d;
        }
    }
    return core::sha256(token);
}

gateway_config load_gateway_file(const std::filesystem::path& path, const env_lookup& env,
                                 diagnostics& diag) {
    std::string text;
    std::string error;
    if (!read_file(path, text, error)) {
        diag.errors.push_back("cannot read config file " + path.string() + ": " + error);
        return {};
    }

    // Each stage runs only on a clean result of the one before: expanding a half-parsed
    // config or validating unexpanded placeholders would only add misleading errors.
    const std::size_t errors_before = diag.errors.size();
    gateway_config cfg = parse_gateway_json(text, diag);
    if (diag.errors.size() != errors_before)
        return cfg;
    expand_env(cfg, env, diag);
    if (diag.errors.size() != errors_before)
        return cfg;
    validate(cfg, diag);
    return cfg;
}

}  // namespace ditto::config
