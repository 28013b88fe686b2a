#include "ditto/store/redis/redis_url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "ditto/core/strings.hpp"

namespace ditto::store::redis {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) {
            return false;
        }
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

bool valid_host_name(std::string_view h) {
    for (const char c : h) {
        const auto u = static_cast<unsigned char>(c);
        if (!std::isalnum(u) && c != '-' && c != '.' && c != '_') {
            return false;
        }
    }
    return !h.empty();
}

bool valid_ipv6(const std::string& h) {
    in6_addr addr{};
    return ::inet_pton(AF_INET6, h.c_str(), &addr) == 1;
}

/// Digits only (no sign, no spaces), within [lo, hi].
template <class Int>
std::optional<Int> parse_number(std::string_view s, Int lo, Int hi) {
    if (s.empty()) {
        return std::nullopt;
    }
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    long long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) {
        return std::nullopt;
    }
    return static_cast<Int>(v);
}

/// `host[:port]` or `[v6]:port` into `ep`; a message (quoting nothing) on failure.
const char* parse_endpoint(std::string_view hostport, redis_endpoint& ep) {
    std::string_view port_text;
    bool has_port = false;
    if (!hostport.empty() && hostport.front() == '[') {
        const std::size_t close = hostport.find(']');
        if (close == std::string_view::npos) {
            return "invalid Redis URL: unterminated IPv6 address";
        }
        ep.host = std::string(hostport.substr(1, close - 1));
        if (!valid_ipv6(ep.host)) {
            return "invalid Redis URL: bad IPv6 address";
        }
        const std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return "invalid Redis URL: unexpected text after the IPv6 address";
            }
            has_port = true;
            port_text = after.substr(1);
        }
    } else {
        const std::size_t colon = hostport.find(':');
        ep.host = std::string(hostport.substr(0, colon));
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = hostport.substr(colon + 1);
        }
        if (ep.host.empty()) {
            return "invalid Redis URL: missing host";
        }
        if (!valid_host_name(ep.host)) {
            return "invalid Redis URL: bad host (IPv6 addresses need [brackets])";
        }
    }
    if (has_port) {
        const auto port = parse_number<std::uint16_t>(port_text, 1, 65535);
        if (!port) {
            return "invalid Redis URL: port must be a number from 1 to 65535";
        }
        ep.port = *port;
    }
    return nullptr;
}

/// `host[:port],host[:port]…` into `out`; a message (quoting nothing) on failure.
const char* parse_endpoints(std::string_view list, std::uint16_t default_port,
                            std::vector<redis_endpoint>& out) {
    while (true) {
        const std::size_t comma = list.find(',');
        redis_endpoint ep{std::string(), default_port};
        if (const char* why = parse_endpoint(list.substr(0, comma), ep)) {
            return why;
        }
        out.push_back(std::move(ep));
        if (comma == std::string_view::npos) {
            return nullptr;
        }
        list = list.substr(comma + 1);
    }
}

void append_endpoint(std::string& out, const std::string& host, std::uint16_t port) {
    if (host.find(':') != std::string::npos) {
        out += '[' + host + ']';
    } else {
        out += host;
    }
    out += ':' + std::to_string(port);
}

bool valid_master_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

}  // namespace

std::string redis_url::redacted() const {
    std::string out = !sentinels.empty() ? "redis+sentinel://"
                      : cluster()        ? (tls ? "rediss+cluster://" : "redis+cluster://")
                      : tls              ? "rediss://"
                                         : "redis://";
    if (!password.empty()) {
        out += core::percent_encode(user);
        out += ":***@";
    }
    if (cluster()) {
        for (std::size_t i = 0; i < cluster_seeds.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            append_endpoint(out, cluster_seeds[i].host, cluster_seeds[i].port);
        }
    } else if (sentinels.empty()) {
        append_endpoint(out, host, port);
    } else {
        for (std::size_t i = 0; i < sentinels.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            append_endpoint(out, sentinels[i].host, sentinels[i].port);
        }
        out += '/' + master_name;
    }
    out += '/' + std::to_string(db);
    return out;
}

std::optional<redis_url> parse_redis_url(std::string_view text, std::string& error) {
    // Messages never quote the input: a password pasted in the wrong place (a port, a
    // path) would otherwise end up in the logs.
    auto fail = [&error](const char* message) -> std::optional<redis_url> {
        error = message;
        return std::nullopt;
    };
    redis_url url;
    std::string_view rest;
    bool sentinel = false;
    bool cluster = false;
    if (starts_with_ci(text, "rediss://")) {
        url.tls = true;
        rest = text.substr(std::string_view("rediss://").size());
    } else if (starts_with_ci(text, "redis://")) {
        rest = text.substr(std::string_view("redis://").size());
    } else if (starts_with_ci(text, "redis+sentinel://")) {
        sentinel = true;
        rest = text.substr(std::string_view("redis+sentinel://").size());
    } else if (starts_with_ci(text, "redis+cluster://")) {
        cluster = true;
        rest = text.substr(std::string_view("redis+cluster://").size());
    } else if (starts_with_ci(text, "rediss+cluster://")) {
        cluster = true;
        url.tls = true;
        rest = text.substr(std::string_view("rediss+cluster://").size());
    } else if (starts_with_ci(text, "rediss+sentinel://")) {
        return fail("TLS with Sentinel (rediss+sentinel://) is not supported yet");
    } else {
        return fail(
            "unsupported Redis URL: expected redis://host[:port][/db], rediss://…, "
            "redis+sentinel://host[:port][,host[:port]…]/master[/db] or "
            "redis+cluster://host[:port][,host[:port]…]");
    }
    // The last '@': a raw (unencoded) password may itself hold '@', '/', '?' or '#', but
    // the host, port and db never do.
    const std::size_t at = rest.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            return fail("invalid Redis URL: credentials must be user:password or :password");
        }
        auto user = percent_decode(userinfo.substr(0, colon));
        auto password = percent_decode(userinfo.substr(colon + 1));
        if (!user || !password) {
            return fail("invalid Redis URL: bad percent-encoding in the credentials");
        }
        if (password->empty()) {
            return fail("invalid Redis URL: empty password");
        }
        url.user = std::move(*user);
        url.password = std::move(*password);
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return fail("invalid Redis URL: query parameters are not supported");
    }

    const std::size_t slash = rest.find('/');
    const std::string_view hosts = rest.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);

    if (cluster) {
        if (const char* why = parse_endpoints(hosts, 6379, url.cluster_seeds)) {
            return fail(why);
        }
        url.host = url.cluster_seeds.front().host;
        url.port = url.cluster_seeds.front().port;
        // A Cluster serves database 0 only (SELECT is refused there).
        if (path.size() > 1 && path != "/0") {
            return fail("invalid Redis URL: a Redis Cluster has database 0 only");
        }
        path = {};
    } else if (!sentinel) {
        redis_endpoint ep{std::string(), url.port};
        if (const char* why = parse_endpoint(hosts, ep)) {
            return fail(why);
        }
        url.host = std::move(ep.host);
        url.port = ep.port;
    } else {
        if (const char* why = parse_endpoints(hosts, 26379, url.sentinels)) {
            return fail(why);
        }
        // The master's name, then the optional db.
        path = path.empty() ? path : path.substr(1);
        const std::size_t next = path.find('/');
        const std::string_view name = path.substr(0, next);
        if (!valid_master_name(name)) {
            return fail(
                "invalid Redis URL: redis+sentinel:// needs the master's name after the hosts "
                "(letters, digits, '-', '_', '.')");
        }
        url.master_name = std::string(name);
        path = next == std::string_view::npos ? std::string_view{} : path.substr(next);
    }

    if (path.size() > 1) {
        const auto db = parse_number<int>(path.substr(1), 0, std::numeric_limits<int>::max());
        if (!db) {
            return fail("invalid Redis URL: the database must be a non-negative number");
        }
        url.db = *db;
    }
    return url;
}

}  // namespace ditto::store::redis
