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
    /// `redis+cluster://h1[:p1],h2[:p2]` (`rediss+cluster://` with TLS): a Redis Cluster, found
    /// through any of these nodes (docs/redis.md, "Redis Cluster"); host and port are the first.
    std::vector<redis_endpoint> cluster_seeds;

    /// Under TLS, the name the certificate is checked against (and sent as SNI) when it is
    /// not `host`: a Cluster node announced by its IP address is checked against the DNS name
    /// of the URL, which is the name its certificate carries (docs/redis.md, "Redis Cluster").
    std::string tls_name;

    bool cluster() const { return !cluster_seeds.empty(); }

    /// The URL with the password replaced by `***`, for logs: `redis://user:***@host:port/db`
    /// (`rediss://` with TLS).
    std::string redacted() const;
};

/// Parses `redis://host`, `redis://host:port/db`, `redis://:pass@host:port/2`,
/// `redis://user:pass@[::1]:6380`, `rediss://host:6380`,
/// `redis+sentinel://:pass@s1,s2:26380,s3/mymaster/0`, `rediss+cluster://:pass@n1:7000,n2:7000`;
/// user and password are percent-decoded. On failure returns nullopt and sets `error` to a message
/// that quotes no part of `text`.
std::optional<redis_url> parse_redis_url(std::string_view text, std::string& error);

}  // namespace ditto::store::redis
