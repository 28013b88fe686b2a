#include "ditto/upstream/url.hpp"

#include <charconv>
#include <vector>

#include "ditto/core/strings.hpp"

namespace ditto::upstream {

std::optional<base_url> parse_base_url(std::string_view text) {
    base_url u;
    text = core::trim(text);
    if (core::iequals_prefix(text, "https://")) {
        u.tls = true;
        text.remove_prefix(8);
    } else if (core::iequals_prefix(text, "http://")) {
        text.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    // Before splitting: "http://host?q" or "http://host#f" has no '/' to mark a path.
    if (text.find_first_of("?#") != std::string_view::npos)
        return std::nullopt;
    const auto slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : text.substr(slash);
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        return std::nullopt;

    std::string_view host = authority;
    std::string_view port_text;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = authority.substr(1, close - 1);
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return std::nullopt;
            port_text = rest.substr(1);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port_text = authority.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return std::nullopt;  // IPv6 needs [ ]
    }
    if (host.empty())
        return std::nullopt;
    const std::uint16_t default_port = u.tls ? 443 : 80;
    u.port = default_port;
    if (!port_text.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
        if (ec != std::errc() || p != port_text.data() + port_text.size() || v == 0 || v > 65535) {
            return std::nullopt;
        }
        u.port = static_cast<std::uint16_t>(v);
    }
    u.host = std::string(host);
    const bool v6 = u.host.find(':') != std::string::npos;
    u.host_header = v6 ? "[" + u.host + "]" : u.host;
    if (u.port != default_port)
        u.host_header += ":" + std::to_string(u.port);
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    u.path = std::string(path);
    return u;
}

std::string join_target(const base_url& base, std::string_view path, std::string_view client_query,
                        std::string_view extra_query) {
    std::string_view prefix = base.path;
    // docs/configuration.md, `base_url`: a base ending in /v1 and a path starting with /v1/ (or
    // equal to /v1) share the /v1 once, so both "https://api.openai.com/v1" and "…/" work as base
    // URLs.
    if (prefix.ends_with("/v1") && (path == "/v1" || path.starts_with("/v1/"))) {
        prefix.remove_suffix(3);
    }
    std::string out;
    out.reserve(prefix.size() + path.size() + client_query.size() + extra_query.size() + 2);
    out.append(prefix).append(path);
    if (out.empty())
        out = "/";
    if (!client_query.empty() || !extra_query.empty()) {
        out += '?';
        out.append(client_query);
        if (!client_query.empty() && !extra_query.empty())
            out += '&';
        out.append(extra_query);
    }
    return out;
}

std::string url_encode(std::string_view s) {
    return core::percent_encode(s);
}

std::string url_decode(std::string_view s) {
    return core::percent_decode(s);
}

namespace {

// The path as dot segments are judged: `%2e` read as '.', and with `slashes` also `%2f`,
// `%5c` and '\\' read as '/'.
std::string dot_view(std::string_view path, bool slashes) {
    std::string out;
    out.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char ch = path[i];
        if (ch == '%' && i + 2 < path.size()) {
            const char hi = path[i + 1];
            const char lo = static_cast<char>(path[i + 2] | 0x20);  // ASCII lowercase
            if (hi == '2' && lo == 'e') {
                out += '.';
                i += 2;
                continue;
            }
            if (slashes && ((hi == '2' && lo == 'f') || (hi == '5' && lo == 'c'))) {
                out += '/';
                i += 2;
                continue;
            }
        }
        out += slashes && ch == '\\' ? '/' : ch;
    }
    return out;
}

// RFC 3986 §5.2.4 over a path that starts with '/', into `out`; false when a ".." would remove
// the first segment or climb above it.
bool remove_dot_segments(std::string_view path, std::string& out) {
    std::vector<std::string_view> kept;
    bool trailing_slash = false;
    std::size_t pos = 1;
    for (;;) {
        const auto slash = path.find('/', pos);
        const bool last = slash == std::string_view::npos;
        const auto segment = path.substr(pos, last ? std::string_view::npos : slash - pos);
        trailing_slash = false;
        if (segment == "..") {
            if (kept.size() <= 1)
                return false;
            kept.pop_back();
            trailing_slash = true;
        } else if (segment == ".") {
            trailing_slash = true;
        } else {
            kept.push_back(segment);
        }
        if (last)
            break;
        pos = slash + 1;
    }
    out.clear();
    for (auto segment : kept)
        out.append("/").append(segment);
    if (trailing_slash || kept.empty())
        out += '/';
    return true;
}

}  // namespace

std::optional<std::string> resolve_dot_segments(std::string_view path) {
    if (path.empty() || path.front() != '/' ||
        path.find_first_of(".%\\") == std::string_view::npos) {
        return std::string(path);
    }
    std::string resolved;
    if (!remove_dot_segments(dot_view(path, true), resolved))
        return std::nullopt;
    const auto view = dot_view(path, false);
    if (!remove_dot_segments(view, resolved))
        return std::nullopt;
    // Nothing resolved: the client's bytes go upstream as sent (an escaped '.' included).
    if (resolved == view)
        return std::string(path);
    return resolved;
}

}  // namespace ditto::upstream
