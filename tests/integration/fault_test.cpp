// The fault suite (issue 11, docs/fault-tests.md): the real gateway between clients and
// upstreams that fail at every stage — resets, stalls, garbage, half-closes, TLS peers that
// are not, clients that leave mid-request. Each case checks that the answer is clean and
// comes within its deadline, that no budget reservation, backend permit or relayed stream is
// left behind (Admin API ledgers, Prometheus gauges), that the gateway still serves, and
// after a burst of faults that its memory is back near its baseline.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <thread>

#include "support/inspect.hpp"
#include "support/keyed_gateway.hpp"
#include "support/raw_server.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizer allocators keep freed blocks and shadow memory: RSS says nothing there, so the
// memory bound (and its long warm-up) is for normal builds; the faults are checked in all.
constexpr bool rss_meaningful = false;
#else
constexpr bool rss_meaningful = true;
#endif

const std::string admin_token = "adm-fault";
// chat_body (keyed_gateway.hpp): charge 29 = input estimate 19 + max_tokens 10.
constexpr std::uint64_t charge = 29;
constexpr std::uint64_t input_estimate = 19;
constexpr std::uint64_t reported = 28;  // what a complete answer reports (and the mock too)

const std::string ok_json =
    R"({"id":"f","object":"chat.completion","choices":[],)"
    R"("usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28}})";

std::string json_head(std::size_t length) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(length) + "\r\n\r\n";
}

// The value of the `x-fault` request header: which fault the upstream plays.
std::string fault_of(const std::string& head) {
    std::string lower = head;
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower.find("\r\nx-fault: ");
    if (at == std::string::npos)
        return "ok";
    const auto from = at + 11;
    return lower.substr(from, lower.find("\r\n", from) - from);
}

// An upstream that answers each request on a keep-alive connection as its `x-fault` header
// says; a fault ends the connection.
void serve_faults(int fd) {
    std::string buf;
    for (;;) {
        // A pooled connection may sit idle: wait as long as the gateway keeps it.
        auto head = read_request(fd, buf, 60s);
        if (!head)
            return;
        const auto fault = fault_of(*head);
        const std::string half_body(100, ' ');
        if (fault == "slow-ok")
            std::this_thread::sleep_for(300ms);
        if (fault == "ok" || fault == "slow-ok") {
            if (!send_all(fd, json_head(ok_json.size()) + ok_json))
                return;
            continue;
        }
        if (fault == "reset-before-head") {
            reset_on_close(fd);
        } else if (fault == "close-before-head") {
            // An orderly close with the request unanswered.
        } else if (fault == "reset-after-head") {
            send_all(fd, json_head(200));
            reset_on_close(fd);
        } else if (fault == "reset-mid-body") {
            send_all(fd, json_head(200) + half_body);
            reset_on_close(fd);
        } else if (fault == "reset-mid-chunked") {
            send_all(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"id\":\"f\",\"objec\r\n");
            reset_on_close(fd);
        } else if (fault == "reset-mid-sse") {
            // The usage event has passed, [DONE] never comes.
            const std::string events =
                "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":19,"
                "\"completion_tokens\":9,\"total_tokens\":28}}\n\n";
            char size[16];
            std::snprintf(size, sizeof(size), "%zx\r\n", events.size());
            send_all(fd, std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n") +
                             size + events + "\r\n");
            reset_on_close(fd);
        } else if (fault == "stall") {
            wait_peer_closed(fd);
        } else if (fault == "stall-mid-head") {
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-");
            wait_peer_closed(fd);
        } else if (fault == "stall-mid-body") {
            send_all(fd, json_head(200) + half_body);
            wait_peer_closed(fd);
        } else if (fault == "garbage") {
            send_all(fd, std::string("SSH-2.0-OpenSSH_9.2p1\r\n\x00\x01\x02\xff\r\n\r\n", 31));
            wait_peer_closed(fd);
        } else if (fault == "garbage-flood") {
            // 256 KiB without a line end: the head never ends.
            send_all(fd, std::string(256 * 1024, 'A'));
            wait_peer_closed(fd);
        } else if (fault == "half-close-mid-head") {
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Le");
            ::shutdown(fd, SHUT_WR);
            wait_peer_closed(fd);
        } else if (fault == "half-close-mid-body") {
            send_all(fd, json_head(200) + half_body);
            ::shutdown(fd, SHUT_WR);
            wait_peer_closed(fd);
        } else if (fault == "half-close-ends-body") {
            // No length: the half-close is how this (valid) answer ends.
            send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + ok_json);
            ::shutdown(fd, SHUT_WR);
            wait_peer_closed(fd);
        }
        return;
    }
}

std::string url_of(const raw_server& s, const char* scheme = "http") {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(s.port()) + "/v1";
}

std::string backend_json(const std::string& name, const std::string& url) {
    return R"({"name":")" + name + R"(","base_url":")" + url + R"(","timeout_seconds":1})";
}

const std::vector<std::string> observed_args = {"--admin-token", admin_token,
                                                "--prometheus-metrics", "--workers", "2"};

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// What every fault must leave behind: no open reservation and `spent` exactly as expected, no
// backend permit held, no stream still relayed. Polled: a torn-down request settles on the
// background thread.
void expect_nothing_left(running_gateway& gw, std::uint64_t spent, const std::string& backend,
                         const std::string& what) {
    std::optional<token_ledger> ledger;
    std::optional<double> in_flight, streams;
    const bool clean = eventually(
        [&] {
            ledger = read_token_ledger(gw.port, admin_token, "key-1");
            in_flight = prometheus_value(
                gw.port, R"(ditto_gateway_proxy_backend_in_flight{backend=")" + backend + "\"}");
            streams = prometheus_value(gw.port, "ditto_gateway_proxy_stream_connections");
            return ledger == token_ledger{spent, 0} && in_flight.value_or(-1) == 0 &&
                   streams.value_or(-1) == 0;
        },
        5s);
    EXPECT_TRUE(clean) << what << ": ledger spent=" << (ledger ? ledger->spent : 0)
                       << " reserved=" << (ledger ? ledger->reserved : 0) << " (expected spent "
                       << spent << ", nothing reserved), backend in flight "
                       << in_flight.value_or(-1) << ", streams " << streams.value_or(-1);
    EXPECT_TRUE(gw.proc.running()) << what << ": the gateway died\n" << gw.proc.stderr_text();
}

http_headers chat_headers(const std::string& fault = "") {
    http_headers h{{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}};
    if (!fault.empty())
        h.emplace_back("x-fault", fault);
    return h;
}

class UpstreamFaults : public ::testing::Test {
  protected:
    void SetUp() override {
        gw.start(R"({"backends":[)" + backend_json("raw", url_of(up)) + R"(],"virtual_keys":[)" +
                     virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000000})") +
                     R"(],"router":{"default_backends":[{"backend":"raw"}]}})",
                 with(observed_args, {"--proxy-max-in-flight", "16"}));
    }
    raw_server up{serve_faults};
    running_gateway gw;
};

struct fault_case {
    std::string fault;
    int status;                          // 0: the answer is cut (a 200 head, then a reset)
    std::string code;                    // the error code expected in the body
    std::uint64_t spent;                 // what the budget records for it
    std::chrono::milliseconds min, max;  // when the answer must come
};

TEST_F(UpstreamFaults, EveryFaultIsACleanBoundedAnswerThatLeavesNothingBehind) {
    // The backend timeout is 1 s: a fault the gateway can see must not wait for it, a stall is
    // cut by it (a buffered body gets the timeout again after its head).
    const std::vector<fault_case> cases = {
        {"ok", 200, "", reported, 0ms, 900ms},
        {"reset-before-head", 502, "backend_error", 0, 0ms, 900ms},
        {"close-before-head", 502, "backend_error", 0, 0ms, 900ms},
        {"reset-after-head", 502, "backend_error", 0, 0ms, 900ms},
        {"reset-mid-body", 502, "backend_error", 0, 0ms, 900ms},
        {"reset-mid-chunked", 0, "", input_estimate, 0ms, 900ms},
        // A stream cut after its usage event settles at that usage.
        {"reset-mid-sse", 0, "", reported, 0ms, 900ms},
        {"stall", 504, "backend_timeout", 0, 900ms, 2000ms},
        {"stall-mid-head", 504, "backend_timeout", 0, 900ms, 2000ms},
        {"stall-mid-body", 504, "backend_timeout", 0, 900ms, 3000ms},
        {"garbage", 502, "backend_error", 0, 0ms, 900ms},
        {"garbage-flood", 502, "backend_error", 0, 0ms, 900ms},
        {"half-close-mid-head", 502, "backend_error", 0, 0ms, 900ms},
        {"half-close-mid-body", 502, "backend_error", 0, 0ms, 900ms},
        // A body delimited by the close is complete: relayed as it comes, its usage read on
        // the way (issue 20 item 4), so it settles at the reported usage.
        {"half-close-ends-body", 200, "", reported, 0ms, 900ms},
    };
    std::uint64_t spent = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.fault);
        http_connection conn(gw.port);
        const auto t0 = steady::now();
        ASSERT_TRUE(conn.send(
            make_request("POST", "/v1/chat/completions", chat_headers(c.fault), chat_body)));
        auto r = conn.read_response(10s);
        const auto took = steady::now() - t0;
        if (c.status == 0) {
            EXPECT_FALSE(r) << "a cut answer must not look complete";
            EXPECT_TRUE(conn.wait_closed(2s));
        } else {
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, c.status) << r->body;
            if (!c.code.empty()) {
                EXPECT_NE(r->body.find(R"("code":")" + c.code + "\""), std::string::npos)
                    << r->body;
            } else {
                EXPECT_EQ(r->body, ok_json);
            }
        }
        EXPECT_GE(took, c.min);
        EXPECT_LT(took, c.max);
        spent += c.spent;
        expect_nothing_left(gw, spent, "raw", c.fault);
    }
    auto after = http_request(gw.port, "POST", "/v1/chat/completions", chat_body, chat_headers());
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200);
}

TEST_F(UpstreamFaults, ABurstOfFaultsLeavesNoReservationAndMemoryReturnsToItsBaseline) {
    // Every fault that ends fast, from the upstream and from the client, mixed over 8
    // concurrent clients; with what each one leaves in the budget.
    const std::vector<std::pair<std::string, std::uint64_t>> kinds = {
        {"ok", reported},
        {"reset-before-head", 0},
        {"reset-after-head", 0},
        {"reset-mid-body", 0},
        {"reset-mid-chunked", input_estimate},
        {"garbage", 0},
        {"half-close-mid-body", 0},
        {"half-close-ends-body", reported},
        {"client-gone-mid-head", 0},
        {"client-gone-mid-body", 0},
        {"client-gone-before-the-answer", reported},
    };
    std::atomic<std::uint64_t> spent{0};
    std::atomic<int> wrong{0};
    const auto one = [&](const std::pair<std::string, std::uint64_t>& kind) {
        const auto& [name, cost] = kind;
        spent += cost;
        http_connection c(gw.port);
        if (name.starts_with("client-gone")) {
            const auto full =
                make_request("POST", "/v1/chat/completions", chat_headers("ok"), chat_body);
            if (name == "client-gone-mid-head") {
                c.send(full.substr(0, full.find("\r\n\r\n")));
                c.reset();
            } else if (name == "client-gone-mid-body") {
                c.send(full.substr(0, full.size() - 20));
                c.reset();
            } else {
                c.send(full);  // and an orderly close right away
            }
            return;
        }
        c.send(make_request("POST", "/v1/chat/completions", chat_headers(name), chat_body));
        const auto r = c.read_response(5s);
        const int expected = name == "reset-mid-chunked"                      ? 0
                             : name == "ok" || name == "half-close-ends-body" ? 200
                                                                              : 502;
        if ((r ? r->status : 0) != expected)
            ++wrong;
    };
    const auto burst = [&](int total) {
        constexpr int clients = 8;
        std::vector<std::thread> threads;
        for (int t = 0; t < clients; ++t) {
            threads.emplace_back([&, t] {
                for (int i = t; i < total; i += clients)
                    one(kinds[static_cast<std::size_t>(i) % kinds.size()]);
            });
        }
        for (auto& th : threads)
            th.join();
        expect_nothing_left(gw, spent, "raw", "after a burst of " + std::to_string(total));
    };

    // Warm-up: allocator pages, pools and the log ring reach their working size first
    // (measured: VmRSS climbs by ~6 MB over the first ~13k faulty requests, then stays
    // within ~0.2 MB for the next 25k — a plateau, not a leak).
    for (int i = 0; rss_meaningful && i < 5; ++i)
        burst(3300);
    const long baseline = proc_status_kb(gw.proc.pid(), "VmRSS");
    const auto t0 = steady::now();
    burst(3300);
    const auto took = steady::now() - t0;
    EXPECT_EQ(wrong.load(), 0) << "answers other than the fault's clean error";
    EXPECT_LT(took, 40s);
    // Not one global in-flight permit (--proxy-max-in-flight 16) leaked: 16 slow requests
    // at once all get through.
    const auto slow = concurrent_statuses(
        gw.port, make_request("POST", "/v1/chat/completions", chat_headers("slow-ok"), chat_body),
        16);
    EXPECT_EQ(std::count(slow.begin(), slow.end(), 200), 16);
    spent += 16 * reported;
    expect_nothing_left(gw, spent, "raw", "16 at once after the burst");

    ASSERT_GT(baseline, 0);
    long rss = 0;
    const bool back = eventually(
        [&] {
            rss = proc_status_kb(gw.proc.pid(), "VmRSS");
            // 2 MB over 3300 requests: a leak of ~600 bytes per faulty request would show.
            return rss - baseline < 2048;
        },
        5s, 100ms);
    std::printf("gateway VmRSS %ld kB after warm-up, %ld kB after 3300 faults (%lld ms)\n",
                baseline, rss,
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    if (!rss_meaningful)
        GTEST_SKIP() << "RSS is not meaningful under a sanitizer (the faults were checked)";
    EXPECT_TRUE(back) << "VmRSS grew from " << baseline << " kB to " << rss << " kB";
}

// Thousands of finished streams leave freed memory in the allocator's per-thread heaps,
// which idle workers never hand back by themselves: once a burst of connections has closed,
// the gateway asks every worker to release it (docs/performance.md, 10,000 streams).
TEST(MemoryRelease, AClosedBurstOfConnectionsHandsItsMemoryBack) {
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port), {"--log-level", "debug"});
    {
        std::vector<std::unique_ptr<http_connection>> burst;
        for (int i = 0; i < 300; ++i) {
            burst.push_back(std::make_unique<http_connection>(gw.port));
            ASSERT_TRUE(burst.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        }
        for (auto& c : burst) {
            const auto r = c->read_response();
            ASSERT_TRUE(r.has_value());
            EXPECT_EQ(r->status, 200);
        }
        // Every connection is open at once here; the release waits until they are gone.
        EXPECT_EQ(gw.proc.stderr_text().find("memory.trim"), std::string::npos);
    }
    EXPECT_TRUE(eventually(
        [&] { return gw.proc.stderr_text().find("memory.trim") != std::string::npos; }, 10s, 100ms))
        << gw.proc.stderr_text();
}

// TLS backends whose peer is not a TLS server, or gives up during the handshake.
TEST(TlsFaults, ABackendThatDoesNotSpeakTlsIsA502AndTheGatewayStaysUp) {
    raw_server plain([](int fd) {
        char hello[2048];
        ::recv(fd, hello, sizeof(hello), 0);  // (part of) the ClientHello, answered in HTTP
        send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        wait_peer_closed(fd, 5s);
    });
    raw_server closes([](int fd) {
        char tmp[512];
        ::recv(fd, tmp, sizeof(tmp), 0);  // part of the ClientHello, then an orderly close
    });
    raw_server resets([](int fd) {
        char tmp[512];
        ::recv(fd, tmp, sizeof(tmp), 0);
        reset_on_close(fd);
    });
    raw_server silent([](int fd) { wait_peer_closed(fd); });
    raw_server http(serve_faults);
    running_gateway gw;
    gw.start(R"({"backends":[)" + backend_json("plain", url_of(plain, "https")) + "," +
                 backend_json("closes", url_of(closes, "https")) + "," +
                 backend_json("resets", url_of(resets, "https")) + "," +
                 backend_json("silent", url_of(silent, "https")) + "," +
                 backend_json("http", url_of(http)) + R"(],"virtual_keys":[)" +
                 virtual_key_json("key-1", "vk-1", R"("budget":{"total_tokens":100000000})") +
                 R"(],"router":{"default_backends":[{"backend":"http"}],"rules":[)"
                 R"({"model_prefix":"plain","backend":"plain"},)"
                 R"({"model_prefix":"closes","backend":"closes"},)"
                 R"({"model_prefix":"resets","backend":"resets"},)"
                 R"({"model_prefix":"silent","backend":"silent"}]}})",
             observed_args);
    const struct {
        std::string backend;
        int status;
        std::chrono::milliseconds min, max;
    } cases[] = {{"plain", 502, 0ms, 900ms},
                 {"closes", 502, 0ms, 900ms},
                 {"resets", 502, 0ms, 900ms},
                 {"silent", 504, 900ms, 2000ms}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.backend);
        const auto t0 = steady::now();
        auto r = http_request(gw.port, "POST", "/v1/chat/completions",
                              R"({"model":")" + c.backend + R"(-1","max_tokens":10,"messages":[]})",
                              chat_headers());
        const auto took = steady::now() - t0;
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status) << r->body;
        EXPECT_NE(r->body.find("TLS handshake"), std::string::npos) << r->body;
        EXPECT_GE(took, c.min);
        EXPECT_LT(took, c.max);
        expect_nothing_left(gw, 0, c.backend, c.backend);
    }
    auto ok = http_request(gw.port, "POST", "/v1/chat/completions", chat_body, chat_headers());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->header("x-ditto-backend"), "http");
}

// Clients that leave at every stage, on a key with a token budget, in front of the mock.
class ClientFaults : public KeyedGateway {
  protected:
    void SetUp() override {
        start(key("key-1", "vk-1", R"("budget":{"total_tokens":100000000})"),
              with(observed_args, {"--client-timeout-ms", "1000"}), R"(,"timeout_seconds":1)");
    }
    std::string request(const std::string& body = chat_body, http_headers extra = {}) {
        auto h = chat_headers();
        h.insert(h.end(), extra.begin(), extra.end());
        return make_request("POST", "/v1/chat/completions", h, body);
    }
    // Until the request on its way is admitted (its charge reserved), so the client leaves
    // at the stage it means to.
    void await_reserved(std::uint64_t amount) {
        ASSERT_TRUE(eventually(
            [&] {
                auto l = read_token_ledger(gw.port, admin_token, "key-1");
                return l && l->reserved == amount;
            },
            5s, 5ms))
            << "the request was never admitted";
    }
    // The gateway still answers a governed request (which spends `reported`).
    void expect_serving(std::uint64_t& spent, const std::string& what) {
        auto r = post("vk-1");
        ASSERT_TRUE(r) << what;
        EXPECT_EQ(r->status, 200) << what << ": " << r->body;
        spent += reported;
        expect_nothing_left(gw, spent, "primary", what + ", then one more request");
    }
};

TEST_F(ClientFaults, AClientGoneAtAnyStageLeavesNoReservationAndTheGatewayServes) {
    const std::string stream = R"({"model":"m","stream":true,"max_tokens":500,"messages":[]})";
    const std::uint64_t stream_estimate = (stream.size() + 3) / 4;
    std::uint64_t spent = 0;
    const auto full = request();

    {  // Mid-head: nothing was admitted.
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(full.substr(0, full.find("Authorization") + 6)));
        std::this_thread::sleep_for(50ms);
    }
    expect_nothing_left(gw, spent, "primary", "gone mid-head");
    {  // Mid-body, with a reset: the body never completed, nothing was admitted.
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(full.substr(0, full.size() - 30)));
        std::this_thread::sleep_for(50ms);
        c.reset();
    }
    expect_nothing_left(gw, spent, "primary", "gone mid-body");
    EXPECT_EQ(mock.request_count(), 0);

    {  // After the request, before the answer: the upstream still answers and it is settled
       // at what it reported, though nobody reads it.
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(request(chat_body, {{"x-mock-delay-ms", "300"}})));
        await_reserved(charge);
    }
    spent += reported;
    expect_nothing_left(gw, spent, "primary", "gone before the answer");
    {  // After the request, and the upstream then times out: rolled back.
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(request(chat_body, {{"x-mock-delay-ms", "3000"}})));
        await_reserved(charge);
        c.reset();
    }
    expect_nothing_left(gw, spent, "primary", "gone before a timed-out answer");
    EXPECT_EQ(mock.request_count(), 2) << "both reached the upstream";

    // Mid-SSE-stream, once with an orderly close and once with a reset: settled at the input
    // estimate (no usage seen yet), never at the full charge, never left reserved.
    for (bool with_reset : {false, true}) {
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(request(stream, {{"x-mock-chunk-delay-ms", "100"}})));
        EXPECT_FALSE(c.read_response(350ms)) << "the stream is still going";
        if (with_reset)
            c.reset();
    }
    spent += 2 * stream_estimate;
    expect_nothing_left(gw, spent, "primary", "gone mid-stream");

    {  // A client that stops reading a large answer: once the socket buffers are full, the
       // gateway's write waits --client-timeout-ms (1 s), then it gives the stream up.
        http_connection c(gw.port, 4096);
        ASSERT_TRUE(c.send(request(chat_body, {{"x-mock-response-bytes", "200000000"}})));
        const auto streams = [&] {
            return prometheus_value(gw.port, "ditto_gateway_proxy_stream_connections").value_or(-1);
        };
        ASSERT_TRUE(eventually([&] { return streams() == 1; }, 5s)) << "the relay never started";
        const auto t0 = steady::now();
        EXPECT_TRUE(eventually([&] { return streams() == 0; }, 10s))
            << "a client that never reads holds the stream";
        EXPECT_LT(steady::now() - t0, 3s);
    }
    spent += input_estimate;
    expect_nothing_left(gw, spent, "primary", "stopped reading");
    expect_serving(spent, "after every client fault");
}

}  // namespace
}  // namespace ditto::test
