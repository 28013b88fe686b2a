#include "ditto/config/cli.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ditto::config {
namespace {

cli_result parse(std::vector<const char*> args) {
    args.insert(args.begin(), "ditto-gateway");
    return parse_cli(static_cast<int>(args.size()), args.data());
}

TEST(Cli, DefaultsFollowTheSpec) {
    auto r = parse({"gw.json"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.config_path, "gw.json");
    EXPECT_EQ(r.options.listen, "127.0.0.1:8080");
    EXPECT_EQ(r.options.proxy_max_in_flight, 256u);
    EXPECT_EQ(r.options.proxy_max_body_bytes, 64u * 1024 * 1024);
    EXPECT_EQ(r.options.proxy_usage_max_body_bytes, 1024u * 1024);
    EXPECT_GE(r.options.workers, 1u);
    EXPECT_EQ(r.options.log_level, "info");
    EXPECT_FALSE(r.options.json_logs);
}

TEST(Cli, ProxyCacheFlags) {
    auto off = parse({"gw.json"});
    EXPECT_FALSE(off.options.proxy_cache.enabled);
    EXPECT_EQ(off.options.proxy_cache.ttl_seconds, 60u);
    EXPECT_EQ(off.options.proxy_cache.max_entries, 1024u);
    EXPECT_EQ(off.options.proxy_cache.max_total_body_bytes, 64u * 1024 * 1024);
    EXPECT_FALSE(off.options.proxy_cache.streaming);
    // docs/caching.md: any cache flag implies --proxy-cache; a 0 is raised to 1.
    for (const char* flag : {"--proxy-cache-ttl", "--proxy-cache-max-entries",
                             "--proxy-cache-max-body-bytes", "--proxy-cache-max-total-body-bytes",
                             "--proxy-cache-max-stream-body-bytes", "--proxy-cache-wait-ms"}) {
        auto r = parse({"gw.json", flag, "0"});
        ASSERT_FALSE(r.exit) << flag << r.output;
        EXPECT_TRUE(r.options.proxy_cache.enabled) << flag;
    }
    auto zero = parse({"gw.json", "--proxy-cache-ttl", "0", "--proxy-cache-max-entries", "0"});
    EXPECT_EQ(zero.options.proxy_cache.ttl_seconds, 1u);
    EXPECT_EQ(zero.options.proxy_cache.max_entries, 1u);
    auto s = parse({"gw.json", "--proxy-cache-streaming", "--proxy-cache-key-header", " X-Region ",
                    "--proxy-cache-key-header", "x-team"});
    EXPECT_TRUE(s.options.proxy_cache.enabled);
    EXPECT_TRUE(s.options.proxy_cache.streaming);
    EXPECT_EQ(s.options.proxy_cache.key_headers, (std::vector<std::string>{"x-region", "x-team"}));
    EXPECT_EQ(parse({"gw.json", "--proxy-cache-key-header", ""}).exit_code, 2);
    EXPECT_EQ(parse({"gw.json", "--proxy-cache-ttl", "-1"}).exit_code, 2);
}

TEST(Cli, MissingConfigDefaultsToGatewayJson) {
    auto r = parse({"--listen", "0.0.0.0:9000"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.config_path, "gateway.json");
    EXPECT_EQ(r.options.listen, "0.0.0.0:9000");
}

TEST(Cli, AddrIsAnAliasOfListen) {
    auto r = parse({"gw.json", "--addr", "[::1]:81", "--workers", "3", "--json-logs"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.listen, "[::1]:81");
    EXPECT_EQ(r.options.workers, 3u);
    EXPECT_TRUE(r.options.json_logs);
}

TEST(Cli, HelpAndVersionExitZero) {
    auto h = parse({"gw.json", "-h"});
    EXPECT_TRUE(h.exit);
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.output.find("--proxy-max-body-bytes"), std::string::npos);
    auto v = parse({"--version"});
    EXPECT_TRUE(v.exit);
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.output.rfind("ditto-gateway ", 0), 0u);
}

TEST(Cli, BadInputExitsTwoWithOneErrorLine) {
    const std::vector<std::vector<const char*>> bad = {
        {"gw.json", "--no-such-flag"},
        {"gw.json", "--workers", "abc"},
        {"gw.json", "--workers", "0"},
        {"gw.json", "--proxy-max-in-flight", "0"},
        {"gw.json", "--proxy-max-body-bytes", "0"},
        {"gw.json", "--proxy-max-body-bytes", "-5"},
        {"gw.json", "--log-level", "loud"},
        {"gw.json", "--listen", "8080"},
        {"gw.json", "--listen", "host:99999"},
        {"gw.json", "--listen"},
        {"gw.yaml"},
        {"gw.toml"},
        {"gw.json", "--dotenv", "/nonexistent/.env"},
        {"gw.json", "--redis", "redis://h", "--redis-env", "REDIS_URL"},  // one or the other
        {"gw.json", "--redis-prefix", "p"},                               // needs --redis
        {"gw.json", "--redis-failure-mode", "open"},                      // needs --redis
        {"gw.json", "--redis", "redis://h", "--redis-failure-mode", "maybe"},
        {"gw.json", "--redis", "redis://h", "--redis-prefix", ""},
        {"gw.json", "--redis", "redis://h", "--redis-timeout-ms", "0"},
        {"gw.json", "--sqlite", "x.db"},
        {"gw.json", "--otel"},                         // the original's, not ours
        {"gw.json", "--otel-exporter", "jaeger"},      // likewise
        {"gw.json", "--otel-endpoint=ftp://x"},        // not http(s)
        {"gw.json", "--otel-endpoint", "http://x y"},  // whitespace
        {"gw.json", "--otel-service-name", "gw"},      // needs --otel-endpoint
        {"gw.json", "--otel-endpoint", "http://x", "--otel-header", "novalue"},
        {"gw.json", "--otel-endpoint", "http://x", "--otel-header", "=v"},
        {"gw.json", "--otel-endpoint", "http://x", "--otel-service-name", ""},
    };
    for (const auto& args : bad) {
        auto r = parse(args);
        std::string joined;
        for (auto* a : args)
            joined += std::string(a) + " ";
        EXPECT_TRUE(r.exit) << joined;
        EXPECT_EQ(r.exit_code, 2) << joined;
        EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << joined << r.output;
    }
}

TEST(Cli, TracingFlags) {
    auto r = parse({"gw.json", "--otel-endpoint=http://127.0.0.1:4318", "--otel-service-name",
                    "edge", "--otel-header", "authorization=secret://env/OTEL_AUTH",
                    "--otel-header", "x-team=ml"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.otel_endpoint, "http://127.0.0.1:4318");
    EXPECT_EQ(r.options.otel_service_name, "edge");
    ASSERT_EQ(r.options.otel_headers.size(), 2u);
    EXPECT_EQ(r.options.otel_headers[0], "authorization=secret://env/OTEL_AUTH");
    auto off = parse({"gw.json"});
    ASSERT_FALSE(off.exit);
    EXPECT_FALSE(off.options.otel_endpoint.has_value());
}

TEST(Cli, RedisFlags) {
    auto r =
        parse({"gw.json", "--redis", "redis://h:1/2", "--redis-prefix", "p1", "--redis-timeout-ms",
               "100", "--redis-failure-mode", "open", "--audit-retention-secs", "0"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.redis_url, "redis://h:1/2");
    EXPECT_EQ(r.options.redis_prefix, "p1");
    EXPECT_EQ(r.options.redis_timeout_ms, 100u);
    EXPECT_EQ(r.options.redis_failure_mode, "open");
    EXPECT_EQ(r.options.audit_retention_secs, 0u);
    auto d = parse({"gw.json", "--redis-env", "REDIS_URL"});
    ASSERT_FALSE(d.exit) << d.output;
    EXPECT_EQ(d.options.redis_env, "REDIS_URL");
    EXPECT_EQ(d.options.redis_prefix, "ditto");
    EXPECT_EQ(d.options.redis_timeout_ms, 250u);
    EXPECT_EQ(d.options.redis_failure_mode, "closed");
    EXPECT_EQ(d.options.audit_retention_secs, 2592000u);
}

TEST(Cli, UsageMaxBodyBytesZeroDisablesParsing) {
    auto r = parse({"gw.json", "--proxy-usage-max-body-bytes", "0"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.proxy_usage_max_body_bytes, 0u);
}

TEST(Cli, RedisLayoutDefaultsToTwoAndMigrateOnlyMovesToTwo) {
    auto d = parse({"gw.json", "--redis", "redis://h:6379"});
    ASSERT_FALSE(d.exit) << d.output;
    EXPECT_EQ(d.options.redis_layout, 2u);
    EXPECT_FALSE(d.options.redis_migrate);
    auto m = parse({"gw.json", "--redis", "redis://h:6379", "--redis-migrate"});
    ASSERT_FALSE(m.exit) << m.output;
    EXPECT_TRUE(m.options.redis_migrate);
    auto one =
        parse({"gw.json", "--redis", "redis://h:6379", "--redis-layout", "1", "--redis-migrate"});
    EXPECT_TRUE(one.exit);
    EXPECT_NE(one.output.find("not with --redis-layout 1"), std::string::npos) << one.output;
    auto alone = parse({"gw.json", "--redis-migrate"});
    EXPECT_TRUE(alone.exit);
    EXPECT_NE(alone.output.find("require --redis"), std::string::npos) << alone.output;
}

TEST(Cli, ReplayTtlDefaultsToADayAndZeroTurnsReplayOff) {
    EXPECT_EQ(parse({"gw.json"}).options.proxy_replay_ttl_secs, 86400u);
    auto r = parse({"gw.json", "--proxy-replay-ttl", "0"});
    ASSERT_FALSE(r.exit) << r.output;
    EXPECT_EQ(r.options.proxy_replay_ttl_secs, 0u);
    EXPECT_TRUE(parse({"gw.json", "--proxy-replay-ttl", "-1"}).exit);
    EXPECT_TRUE(parse({"gw.json", "--proxy-replay-ttl", "day"}).exit);
    EXPECT_FALSE(parse({"gw.json", "--proxy-replay-ttl", "31536000"}).exit);  // a year
    auto huge = parse({"gw.json", "--proxy-replay-ttl", "18446744073709551615"});
    EXPECT_TRUE(huge.exit);
    EXPECT_NE(huge.output.find("--proxy-replay-ttl"), std::string::npos) << huge.output;
}

TEST(HostPort, ParsesV4V6AndNames) {
    auto a = parse_host_port("127.0.0.1:8080");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 8080);
    auto b = parse_host_port("[::1]:0");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 0);
    EXPECT_TRUE(parse_host_port("localhost:65535"));
    EXPECT_FALSE(parse_host_port("localhost:65536"));
    EXPECT_FALSE(parse_host_port(":80"));
    EXPECT_FALSE(parse_host_port("::1:80"));
    EXPECT_FALSE(parse_host_port("host:"));
    EXPECT_FALSE(parse_host_port("host:8a"));
}

}  // namespace
}  // namespace ditto::config
