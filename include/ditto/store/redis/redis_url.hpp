#pragma once

// The Redis address the gateway is given on the command line or in the environment:
// `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. The password stays in this
// struct only: no error message and no redacted() form ever contains it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::store::redis {

struct redis_endpoint {
    std::string host;
    std::uint16_t port = 0;
};

struct redis_url {
    std::string host;  ///< a name or an IP literal (IPv6 without its brackets)
    std::uint16_t port = 6379;
    int db = 0;
    std::string user;      ///< empty: `AUTH password` (the default user)
    std::string password;  ///< empty: no AUTH at all
    bool tls = false;      ///< `rediss://`: TLS, with SNI and the host name verified
    /// `redis+sentinel://h1[:p1],h2[:p2]/master[/db]`: the Sentinels to ask for the address of
    /// `master_name`'s primary (default port 26379); host and port are then unused.
    std::vector<redis_endpoint> sentinels;
    std::string master_name;

    /// The URL with the password replaced by `***`, for logs: `redis://user:***@host:port/db`
    /// (`rediss://` with TLS).
    std::string redacted() const;
};

/// Parses `redis://host`, `redis://host:port/db`, `redis://:pass@host:port/2`,
/// `redis://user:pass@[::1]:6380`, `rediss://host:6380`,
/// `redis+sentinel://:pass@s1,s2:26380,s3/mymaster/0`; user and password are percent-decoded. On
/// failure returns nullopt and sets `error` to a message that quotes no part of `text`.
std::optional<redis_url> parse_redis_url(std::string_view text, std::string& error);

}  // namespace ditto::store::redis
