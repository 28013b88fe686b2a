#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::upstream {

/// A backend's `base_url`, split once at start-up.
struct base_url {
    bool tls = false;
    std::string host;         ///< without brackets for IPv6
    std::uint16_t port = 0;   ///< explicit or the scheme's default
    std::string path;         ///< no trailing '/', may be empty
    std::string host_header;  ///< what goes in Host: (port only when not the default)
};

/// Parses `http[s]://host[:port][/path]`; nullopt when malformed. Userinfo, query and
/// fragment are refused (credentials belong in `headers`).
std::optional<base_url> parse_base_url(std::string_view text);

/// The upstream request target (docs/configuration.md, `base_url`; docs/proxy.md): base path +
/// request path, without a doubled `/v1`, then the client's query, then the backend's encoded query
/// params. `path` starts with '/'; `client_query` and `extra_query` have no leading '?'.
std::string join_target(const base_url& base, std::string_view path, std::string_view client_query,
                        std::string_view extra_query);

/// A request path (starting with '/') with its dot segments resolved (RFC 3986 §5.2.4), `%2e`
/// read as '.' (§6.2.2.2). nullopt when a ".." would remove the path's first segment — `/v1`,
/// or an alias root such as `/models` — or climb above it; that check is also made with `%2f`,
/// `%5c` and '\' read as '/', as some upstreams and front proxies read them (docs/security.md).
/// A path without dot segments comes back as it is.
std::optional<std::string> resolve_dot_segments(std::string_view path);

/// application/x-www-form-urlencoded style percent-encoding for query names and values.
std::string url_encode(std::string_view s);

/// Percent-decoding (`+` is left alone); invalid escapes are kept as they are.
std::string url_decode(std::string_view s);

}  // namespace ditto::upstream
