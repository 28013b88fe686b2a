// The Redis connection against a real redis-server: round trips, pipelining under
// concurrency, AUTH and SELECT, and what a request sees when Redis hangs, dies or comes back.
#include "ditto/store/redis/redis_connection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <thread>
#include <variant>

#include "connection_fixture.hpp"
#include "ditto/store/redis/redis_url.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace ditto::store::redis {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using ditto::test::redis_server;

// --- redis_url -------------------------------------------------------------------------

redis_url parse_ok(const std::string& text) {
    std::string error;
    auto url = parse_redis_url(text, error);
    EXPECT_TRUE(url) << text << ": " << error;
    return url.value_or(redis_url{});
}

TEST(RedisUrl, HostOnlyGetsDefaultPortAndDb) {
    const redis_url u = parse_ok("redis://localhost");
    EXPECT_EQ(u.host, "localhost");
    EXPECT_EQ(u.port, 6379);
    EXPECT_EQ(u.db, 0);
    EXPECT_EQ(u.user, "");
    EXPECT_EQ(u.password, "");
    EXPECT_EQ(parse_ok("redis://localhost/").db, 0);
}

TEST(RedisUrl, UserPasswordPortAndDb) {
    const redis_url u = parse_ok("redis://alice:s3cr%40t%3A%2F@10.0.0.5:6380/3");
    EXPECT_EQ(u.host, "10.0.0.5");
    EXPECT_EQ(u.port, 6380);
    EXPECT_EQ(u.db, 3);
    EXPECT_EQ(u.user, "alice");
    EXPECT_EQ(u.password, "s3cr@t:/");
}

TEST(RedisUrl, PasswordOnlyAndRawSpecialCharacters) {
    const redis_url u = parse_ok("redis://:pass@redis.internal:1234/2");
    EXPECT_EQ(u.host, "redis.internal");
    EXPECT_EQ(u.port, 1234);
    EXPECT_EQ(u.db, 2);
    EXPECT_EQ(u.user, "");
    EXPECT_EQ(u.password, "pass");
    // Unencoded '@' and '/' in a password: the host starts after the last '@'.
    const redis_url raw = parse_ok("redis://:p@ss/w:rd@h:7000");
    EXPECT_EQ(raw.password, "p@ss/w:rd");
    EXPECT_EQ(raw.host, "h");
    EXPECT_EQ(raw.port, 7000);
}

TEST(RedisUrl, Ipv6LiteralInBrackets) {
    const redis_url u = parse_ok("redis://[::1]:6390/1");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 6390);
    EXPECT_EQ(u.db, 1);
    EXPECT_EQ(u.redacted(), "redis://[::1]:6390/1");
}

TEST(RedisUrl, TlsSchemeTurnsTlsOn) {
    const redis_url u = parse_ok("rediss://:hunter2@cache.example.com:6380/1");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "cache.example.com");
    EXPECT_EQ(u.port, 6380);
    EXPECT_EQ(u.db, 1);
    EXPECT_EQ(u.redacted(), "rediss://:***@cache.example.com:6380/1");
    EXPECT_TRUE(parse_ok("REDISS://h").tls);
    EXPECT_FALSE(parse_ok("redis://h").tls);
}

TEST(RedisUrl, SentinelListsItsSentinelsAndTheMasterName) {
    const redis_url u = parse_ok("redis+sentinel://:hunter2@s1,s2:26380,[::1]/mymaster/2");
    ASSERT_EQ(u.sentinels.size(), 3U);
    EXPECT_EQ(u.sentinels[0].host, "s1");
    EXPECT_EQ(u.sentinels[0].port, 26379);
    EXPECT_EQ(u.sentinels[1].port, 26380);
    EXPECT_EQ(u.sentinels[2].host, "::1");
    EXPECT_EQ(u.master_name, "mymaster");
    EXPECT_EQ(u.db, 2);
    EXPECT_EQ(u.password, "hunter2");
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.redacted(), "redis+sentinel://:***@s1:26379,s2:26380,[::1]:26379/mymaster/2");
    EXPECT_EQ(parse_ok("redis+sentinel://h/m").db, 0);
}

TEST(RedisUrl, BadUrlsAreRejectedWithoutThePassword) {
    const char* bad[] = {
        "http://u:hunter2@h:6379",
        "unix://u:hunter2@/tmp/redis.sock",
        "redis://u:hunter2@h:0",
        "redis://u:hunter2@h:65536",
        "redis://u:hunter2@h:12ab",
        "redis://u:hunter2@h:",
        "redis://u:hunter2@h:-1",
        "redis://u:hunter2@h/x",
        "redis://u:hunter2@h/-1",
        "redis://u:hunter2@h/1.5",
        "redis://u:hunter2@h/99999999999",
        "redis://u:hunter2@",
        "redis://u:hunter2@:6379",
        "redis://hunter2@h",         // no ':' between user and password
        "redis://u:@h",              // empty password
        "redis://u:hunter2%zz@h",    // bad percent-encoding
        "redis://u:hunter2%4@h",     // truncated percent-encoding
        "redis://u:hunter2@h?db=1",  // query
        "redis://h:hunter2",         // a password where the port goes
        "redis://h/hunter2",         // ... or the db
        "redis://u:hunter2@[::1",
        "redis://u:hunter2@[zz]:1",
        "redis://u:hunter2@::1:6379",
        "redis://u:hunter2@h h:1",
        "rediss://u:hunter2@h:0",
        "redis+sentinel://u:hunter2@h",      // no master name
        "redis+sentinel://u:hunter2@h/",     // empty master name
        "redis+sentinel://u:hunter2@h,/m",   // an empty host
        "redis+sentinel://u:hunter2@h/m m",  // a bad name
        "redis+sentinel://u:hunter2@h/m/x",  // a bad db
        "rediss+sentinel://u:hunter2@h/m",   // TLS with Sentinel: not yet
        "rediss:/u:hunter2@h",
        "",
    };
    for (const char* text : bad) {
        std::string error;
        const auto url = parse_redis_url(text, error);
        EXPECT_FALSE(url) << text;
        EXPECT_FALSE(error.empty()) << text;
        EXPECT_EQ(error.find("hunter2"), std::string::npos) << text << " -> " << error;
    }
}

TEST(RedisUrl, RedactedFormHidesThePassword) {
    EXPECT_EQ(parse_ok("redis://alice:hunter2@h:7000/4").redacted(), "redis://alice:***@h:7000/4");
    EXPECT_EQ(parse_ok("redis://:hunter2@h").redacted(), "redis://:***@h:6379/0");
    EXPECT_EQ(parse_ok("redis://h").redacted(), "redis://h:6379/0");
    // A user with reserved characters stays one unambiguous URL.
    EXPECT_EQ(parse_ok("redis://a%40b:x@h").redacted(), "redis://a%40b:***@h:6379/0");
}

// --- redis_connection ------------------------------------------------------------------

// The fixture (RedisConnection) is in connection_fixture.hpp.

struct fan_out_state {
    explicit fan_out_state(const net::any_io_executor& ex, std::size_t n)
        : results(n), remaining(n), done(ex, net::steady_timer::time_point::max()) {}
    std::vector<redis_result> results;
    std::size_t remaining;
    net::steady_timer done;
};

/// Starts every command at once, each in its own coroutine on this executor, and waits for
/// all of them: what concurrent requests on one worker thread do.
net::awaitable<std::vector<redis_result>> fan_out(std::shared_ptr<redis_connection> conn,
                                                  std::vector<std::vector<std::string>> cmds) {
    auto ex = co_await net::this_coro::executor;
    auto st = std::make_shared<fan_out_state>(ex, cmds.size());
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        net::co_spawn(ex, conn->exec(std::move(cmds[i])),
                      [st, i](const std::exception_ptr&, redis_result r) {
                          st->results[i] = std::move(r);
                          if (--st->remaining == 0) {
                              st->done.cancel();
                          }
                      });
    }
    if (st->remaining > 0) {
        co_await st->done.async_wait(net::as_tuple(net::use_awaitable));
    }
    co_return std::move(st->results);
}

TEST_F(RedisConnection, SetGetIncrDelEvalRoundTrip) {
    redis_server srv;
    auto c = connect(srv.url());

    EXPECT_TRUE(exec(c, {"SET", "k", "hello\r\nworld"}).reply.is_ok());
    redis_result get = exec(c, {"GET", "k"});
    ASSERT_FALSE(get.error) << get.error.message();
    EXPECT_TRUE(get.reply.is_string());
    EXPECT_EQ(get.reply.str, "hello\r\nworld");

    EXPECT_EQ(exec(c, {"INCR", "n"}).reply.as_int(), 1);
    EXPECT_EQ(exec(c, {"INCRBY", "n", "41"}).reply.as_int(), 42);
    EXPECT_EQ(exec(c, {"GET", "n"}).reply.as_int(), 42);

    redis_result eval = exec(
        c, {"EVAL", "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", "1", "n", "arg"});
    ASSERT_FALSE(eval.error);
    ASSERT_TRUE(eval.reply.is_array());
    ASSERT_EQ(eval.reply.elements.size(), 3U);
    EXPECT_EQ(eval.reply.elements[0].str, "n");
    EXPECT_EQ(eval.reply.elements[1].str, "arg");
    EXPECT_EQ(eval.reply.elements[2].as_int(), 43);

    EXPECT_EQ(exec(c, {"DEL", "k", "n", "missing"}).reply.as_int(), 2);
    EXPECT_TRUE(exec(c, {"GET", "k"}).reply.is_nil());
    EXPECT_TRUE(await(c->ping()));
    EXPECT_TRUE(c->connected());
    EXPECT_EQ(c->stats().connects, 1U);
}

TEST_F(RedisConnection, MissingKeyIsNil) {
    redis_server srv;
    auto c = connect(srv.url());
    redis_result r = exec(c, {"GET", "nope"});
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.reply.is_nil());
    EXPECT_FALSE(r.reply.as_string());
    EXPECT_FALSE(r.reply.as_int());
}

TEST_F(RedisConnection, ErrorReplyIsAReplyNotATransportError) {
    redis_server srv;
    auto c = connect(srv.url());
    exec(c, {"SET", "s", "text"});
    redis_result r = exec(c, {"INCR", "s"});
    EXPECT_FALSE(r.error) << r.error.message();
    EXPECT_TRUE(r.reply.is_error());
    EXPECT_EQ(r.reply.str.rfind("ERR", 0), 0U) << r.reply.str;

    redis_result unknown = exec(c, {"NO-SUCH-COMMAND"});
    EXPECT_FALSE(unknown.error);
    EXPECT_TRUE(unknown.reply.is_error());
    // The connection is unharmed and still in step.
    EXPECT_EQ(exec(c, {"ECHO", "after"}).reply.str, "after");
    EXPECT_EQ(c->stats().connects, 1U);
}

TEST_F(RedisConnection, EmptyCommandIsRejectedLocally) {
    redis_server srv;
    auto c = connect(srv.url());
    EXPECT_EQ(exec(c, {}).error, net::error::invalid_argument);
    redis_pipeline_result p = await(c->exec_pipeline({{"PING"}, {}}));
    EXPECT_EQ(p.error, net::error::invalid_argument);
    EXPECT_EQ(exec(c, {"ECHO", "x"}).reply.str, "x");
}

TEST_F(RedisConnection, ThousandConcurrentCommandsArePipelinedAndMatchedInOrder) {
    redis_server srv;
    redis_options opt;
    opt.command_timeout = 5s;  // the test is about matching, not about speed
    auto c = connect(srv.url(), opt);
    ASSERT_TRUE(await(c->ping()));
    const auto before = c->stats();

    std::vector<std::vector<std::string>> cmds;
    for (int i = 0; i < 1000; ++i) {
        cmds.push_back({"INCR", "counter"});
    }
    std::vector<redis_result> incrs = await(fan_out(c, cmds));
    std::set<long long> seen;
    for (const redis_result& r : incrs) {
        ASSERT_FALSE(r.error) << r.error.message();
        seen.insert(r.reply.as_int().value_or(-1));
    }
    EXPECT_EQ(seen.size(), 1000U);
    EXPECT_EQ(*seen.begin(), 1);
    EXPECT_EQ(*seen.rbegin(), 1000);

    // Each caller gets its own reply, not just some reply: SET then GET of its own key.
    cmds.clear();
    for (int i = 0; i < 1000; ++i) {
        cmds.push_back({"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
        cmds.push_back({"GET", "k" + std::to_string(i)});
    }
    std::vector<redis_result> kv = await(fan_out(c, cmds));
    for (int i = 0; i < 1000; ++i) {
        EXPECT_TRUE(kv[2 * i].reply.is_ok());
        EXPECT_EQ(kv[2 * i + 1].reply.str, "v" + std::to_string(i));
    }

    const auto after = c->stats();
    EXPECT_EQ(after.commands - before.commands, 3000U);
    // Pipelined: far fewer writes than commands (without pipelining, one write each).
    EXPECT_LT(after.writes - before.writes, 100U) << "writes: " << after.writes - before.writes;
    std::printf("[ timing   ] 3000 concurrent commands took %llu socket writes\n",
                static_cast<unsigned long long>(after.writes - before.writes));
}

TEST_F(RedisConnection, PipelinedThroughputOfTenThousandIncr) {
    redis_server srv;
    redis_options opt;
    opt.command_timeout = 10s;
    auto c = connect(srv.url(), opt);
    ASSERT_TRUE(await(c->ping()));

    std::vector<std::vector<std::string>> cmds(10'000, {"INCR", "t"});
    auto t0 = clock::now();
    std::vector<redis_result> results = await(fan_out(c, cmds), 60s);
    const auto concurrent = clock::now() - t0;
    ASSERT_EQ(results.size(), 10'000U);
    EXPECT_EQ(exec(c, {"GET", "t"}).reply.as_int(), 10'000);

    // For comparison: one at a time, each waiting for its reply.
    t0 = clock::now();
    for (int i = 0; i < 1000; ++i) {
        ASSERT_FALSE(exec(c, {"INCR", "t"}).error);
    }
    const auto sequential = clock::now() - t0;
    const double ms = std::chrono::duration<double, std::milli>(concurrent).count();
    std::printf(
        "[ timing   ] 10000 concurrent INCR: %.1f ms (%.0f/s); 1000 sequential (incl. "
        "test-thread hop): %.1f ms\n",
        ms, 10'000 / (ms / 1000), std::chrono::duration<double, std::milli>(sequential).count());
}

TEST_F(RedisConnection, MultiExecPipelineReturnsTheExecArray) {
    redis_server srv;
    auto c = connect(srv.url());
    redis_pipeline_result p =
        await(c->exec_pipeline({{"MULTI"}, {"SET", "m", "1"}, {"INCR", "m"}, {"EXEC"}}));
    ASSERT_FALSE(p.error) << p.error.message();
    ASSERT_EQ(p.replies.size(), 4U);
    EXPECT_TRUE(p.replies[0].is_ok());
    EXPECT_EQ(p.replies[1].str, "QUEUED");
    EXPECT_EQ(p.replies[2].str, "QUEUED");
    ASSERT_TRUE(p.replies[3].is_array());
    ASSERT_EQ(p.replies[3].elements.size(), 2U);
    EXPECT_TRUE(p.replies[3].elements[0].is_ok());
    EXPECT_EQ(p.replies[3].elements[1].as_int(), 2);
    // Interleaved with a single command, both still get their own replies.
    EXPECT_EQ(exec(c, {"GET", "m"}).reply.as_int(), 2);
    EXPECT_TRUE(await(c->exec_pipeline({})).replies.empty());
}

TEST_F(RedisConnection, AuthWithTheRightPasswordWorks) {
    redis_server srv({.password = "correct-horse"});
    auto c = connect(srv.url());
    EXPECT_TRUE(exec(c, {"SET", "a", "1"}).reply.is_ok());
    EXPECT_EQ(exec(c, {"GET", "a"}).reply.str, "1");

    // Without a password the server answers NOAUTH: a reply, not a transport error.
    auto anon = connect("redis://127.0.0.1:" + std::to_string(srv.port()));
    redis_result r = exec(anon, {"GET", "a"});
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(r.reply.is_error());
    EXPECT_EQ(r.reply.str.rfind("NOAUTH", 0), 0U) << r.reply.str;
}

TEST_F(RedisConnection, WrongPasswordFailsWithAClearErrorWithoutThePassword) {
    redis_server srv({.password = "correct-horse"});
    auto c = connect("redis://:wrong-battery@127.0.0.1:" + std::to_string(srv.port()));
    for (int i = 0; i < 3; ++i) {
        const auto t0 = clock::now();
        redis_result r = exec(c, {"PING"});
        EXPECT_EQ(r.error, make_error_code(redis_errc::auth_failed)) << r.error.message();
        const std::string msg = r.error.message();
        EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("wrong-battery"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("correct-horse"), std::string::npos) << msg;
        EXPECT_LT(clock::now() - t0, 250ms);
    }
    EXPECT_FALSE(c->connected());
    EXPECT_FALSE(await(c->ping()));
}

TEST_F(RedisConnection, AclUserAuthenticatesWithUserAndPassword) {
    redis_server srv;
    auto admin = connect(srv.url());
    redis_result created =
        exec(admin, {"ACL", "SETUSER", "alice", "on", ">al1ce-pw", "~*", "+@all"});
    ASSERT_TRUE(created.reply.is_ok()) << created.reply.str;

    const std::string base = "@127.0.0.1:" + std::to_string(srv.port());
    auto alice = connect("redis://alice:al1ce-pw" + base);
    redis_result who = exec(alice, {"ACL", "WHOAMI"});
    ASSERT_FALSE(who.error) << who.error.message();
    EXPECT_EQ(who.reply.str, "alice");

    auto wrong = connect("redis://alice:nope" + base);
    EXPECT_EQ(exec(wrong, {"PING"}).error, make_error_code(redis_errc::auth_failed));
}

TEST_F(RedisConnection, SelectIsolatesDatabases) {
    redis_server srv;
    auto db0 = connect(srv.url(0));
    auto db1 = connect(srv.url(1));
    EXPECT_TRUE(exec(db1, {"SET", "only-in-1", "x"}).reply.is_ok());
    EXPECT_TRUE(exec(db0, {"GET", "only-in-1"}).reply.is_nil());
    EXPECT_EQ(exec(db1, {"GET", "only-in-1"}).reply.str, "x");
    EXPECT_EQ(exec(db0, {"DBSIZE"}).reply.as_int(), 0);
    EXPECT_EQ(exec(db1, {"DBSIZE"}).reply.as_int(), 1);
}

TEST_F(RedisConnection, SelectOfADatabaseTheServerLacksFails) {
    redis_server srv;
    auto c = connect(srv.url(99));  // 16 databases by default
    redis_result r = exec(c, {"PING"});
    EXPECT_EQ(r.error, make_error_code(redis_errc::select_failed)) << r.error.message();
}

TEST_F(RedisConnection, PausedRedisTimesOutWithinTheDeadline) {
    redis_server srv;
    auto c = connect(srv.url());  // command_timeout 250 ms
    ASSERT_TRUE(exec(c, {"SET", "k", "v"}).reply.is_ok());

    srv.pause();
    const auto t0 = clock::now();
    redis_result r = exec(c, {"GET", "k"});
    const auto elapsed = clock::now() - t0;
    EXPECT_EQ(r.error, net::error::timed_out) << r.error.message();
    EXPECT_GE(elapsed, 240ms);
    EXPECT_LT(elapsed, 1s);
    std::printf("[ timing   ] timeout detected after %.1f ms (command_timeout 250 ms)\n",
                std::chrono::duration<double, std::milli>(elapsed).count());

    // Several callers at once: each is released by its own deadline, none waits longer.
    std::vector<std::vector<std::string>> cmds(50, {"GET", "k"});
    const auto t1 = clock::now();
    std::vector<redis_result> many = await(fan_out(c, cmds));
    EXPECT_LT(clock::now() - t1, 1s);
    for (const redis_result& m : many) {
        EXPECT_TRUE(m.error);
    }
    EXPECT_GE(c->stats().timeouts, 1U);

    srv.resume();
    EXPECT_TRUE(eventually_ok(c, {"GET", "k"}));
    EXPECT_EQ(exec(c, {"GET", "k"}).reply.str, "v");
    // A written command that timed out is never answered in time: the connection was
    // replaced rather than kept with a server that may be hung.
    EXPECT_GE(c->stats().connects, 2U);
}

TEST_F(RedisConnection, KilledRedisFailsFastAndReconnectsAfterRestart) {
    redis_server srv;
    redis_options opt;
    // Far above what a failure may take, so "fast" cannot be the deadline passing.
    opt.command_timeout = 2s;
    auto c = connect(srv.url(), opt);
    ASSERT_TRUE(exec(c, {"SET", "k", "v"}).reply.is_ok());

    srv.kill();
    for (int i = 0; i < 10; ++i) {
        const auto t0 = clock::now();
        redis_result r = exec(c, {"GET", "k"});
        const auto elapsed = clock::now() - t0;
        ASSERT_TRUE(r.error);
        EXPECT_TRUE(r.error == net::error::not_connected ||
                    r.error == make_error_code(redis_errc::connection_lost) ||
                    r.error == net::error::connection_refused)
            << r.error.message();
        EXPECT_LT(elapsed, 500ms) << r.error.message();
    }
    EXPECT_FALSE(await(c->ping()));

    srv.restart();  // nothing persisted: the key is gone
    const auto t0 = clock::now();
    EXPECT_TRUE(eventually_ok(c, {"SET", "k", "again"}));
    std::printf("[ timing   ] back %.0f ms after the restart\n",
                std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    EXPECT_EQ(exec(c, {"GET", "k"}).reply.str, "again");
    EXPECT_TRUE(c->connected());
    EXPECT_GE(c->stats().connects, 2U);
}

TEST_F(RedisConnection, ADemotedPrimaryIsLeftForANewConnection) {
    // A fail-over that keeps the old primary alive as a replica (a DNS name moved to the new
    // primary, as ElastiCache's primary endpoint does) answers READONLY to every write: the
    // connection then starts over, which resolves the name (or asks the Sentinels) again.
    redis_server srv;
    redis_server other;
    auto c = connect(srv.url());
    ASSERT_TRUE(exec(c, {"SET", "k", "v"}).reply.is_ok());
    ASSERT_EQ(
        test::run_to_exit("/usr/bin/redis-cli", {"-p", std::to_string(srv.port()), "REPLICAOF",
                                                 "127.0.0.1", std::to_string(other.port())})
            .out,
        "OK\n");
    redis_result r;
    for (int i = 0; i < 100; ++i) {  // until the replica role is in place
        r = exec(c, {"SET", "k", "w"});
        if (r.reply.is_error())
            break;
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(r.reply.is_error());
    EXPECT_EQ(r.reply.str.rfind("READONLY", 0), 0U) << r.reply.str;
    // Promoted again: the next connection writes.
    test::run_to_exit("/usr/bin/redis-cli",
                      {"-p", std::to_string(srv.port()), "REPLICAOF", "NO", "ONE"});
    EXPECT_TRUE(eventually_ok(c, {"SET", "k", "x"}));
    EXPECT_GE(c->stats().connects, 2U) << "the READONLY answer did not end the connection";
}

TEST_F(RedisConnection, NoServerAtAllFailsFastAndStartConnectsEagerly) {
    int port = 0;
    {
        redis_server srv;
        port = srv.port();
    }
    redis_options opt;
    opt.command_timeout = 2s;
    auto c = connect("redis://127.0.0.1:" + std::to_string(port), opt);
    const auto t0 = clock::now();
    redis_result r = exec(c, {"PING"});
    EXPECT_EQ(r.error, net::error::connection_refused) << r.error.message();
    r = exec(c, {"PING"});  // now waiting to retry
    EXPECT_TRUE(r.error == net::error::not_connected || r.error == net::error::connection_refused)
        << r.error.message();
    EXPECT_LT(clock::now() - t0, 500ms);

    redis_server other;
    auto eager = connect(other.url());
    eager->start();
    const auto deadline = clock::now() + 5s;
    while (!eager->connected() && clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(eager->connected());
    EXPECT_EQ(eager->stats().commands, 0U);
}

TEST_F(RedisConnection, HandshakeNeverAnsweredEndsAtTheConnectTimeout) {
    // Paused, the server's kernel still completes the TCP handshake; AUTH gets no answer.
    redis_server srv({.password = "pw"});
    srv.pause();
    redis_options opt;
    opt.connect_timeout = 300ms;
    opt.command_timeout = 2s;
    auto c = connect(srv.url(), opt);

    auto t0 = clock::now();
    redis_result r = exec(c, {"PING"});
    auto elapsed = clock::now() - t0;
    EXPECT_EQ(r.error, net::error::timed_out) << r.error.message();
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 1s);

    // The attempt failed: until a retry succeeds, commands do not wait at all.
    t0 = clock::now();
    r = exec(c, {"PING"});
    elapsed = clock::now() - t0;
    EXPECT_EQ(r.error, net::error::not_connected) << r.error.message();
    EXPECT_LT(elapsed, 100ms);

    srv.resume();
    EXPECT_TRUE(eventually_ok(c, {"PING"}));
}

net::awaitable<redis_result> exec_or_give_up(std::shared_ptr<redis_connection> c,
                                             std::vector<std::string> args,
                                             std::chrono::milliseconds after) {
    using namespace net::experimental::awaitable_operators;
    net::steady_timer timer(co_await net::this_coro::executor, after);
    auto raced =
        co_await (c->exec(std::move(args)) || timer.async_wait(net::as_tuple(net::use_awaitable)));
    if (raced.index() == 0) {
        co_return std::get<0>(std::move(raced));
    }
    redis_result gave_up;
    gave_up.error = net::error::operation_aborted;
    co_return gave_up;
}

TEST_F(RedisConnection, CancelledCallerLeavesTheConnectionInStep) {
    redis_server srv;
    redis_options opt;
    opt.command_timeout = 5s;
    auto c = connect(srv.url(), opt);
    ASSERT_TRUE(exec(c, {"SET", "k", "v"}).reply.is_ok());

    srv.pause();
    const auto t0 = clock::now();
    redis_result r = await(exec_or_give_up(c, {"GET", "k"}, 100ms));
    EXPECT_EQ(r.error, net::error::operation_aborted);
    EXPECT_LT(clock::now() - t0, 1s);
    srv.resume();

    // The abandoned GET's reply arrives first and must be dropped, not handed to ECHO.
    EXPECT_EQ(exec(c, {"ECHO", "mine"}).reply.str, "mine");
    EXPECT_EQ(c->stats().connects, 1U);
}

TEST_F(RedisConnection, CloseAbortsPendingCommandsAndLaterOnes) {
    redis_server srv;
    redis_options opt;
    opt.command_timeout = 5s;
    auto c = connect(srv.url(), opt);
    ASSERT_TRUE(await(c->ping()));

    srv.pause();
    auto pending = net::co_spawn(io_, c->exec({"GET", "k"}), net::use_future);
    const auto deadline = clock::now() + 5s;
    while (c->stats().commands < 2 && clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    const auto t0 = clock::now();
    c->close();
    ASSERT_EQ(pending.wait_for(2s), std::future_status::ready);
    EXPECT_LT(clock::now() - t0, 1s);
    EXPECT_EQ(pending.get().error, net::error::operation_aborted);
    EXPECT_EQ(exec(c, {"PING"}).error, net::error::operation_aborted);
    EXPECT_FALSE(c->connected());
    srv.resume();
}

}  // namespace
}  // namespace ditto::store::redis
