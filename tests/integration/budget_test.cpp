// docs/governance.md ("Budgets", "Costs", "Usage accounting") through the real gateway: token and
// USD budgets reserved at admission and settled to the usage the upstream reported, on every path;
// exact under concurrency; stream usage counted and the extra usage event removed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "support/keyed_gateway.hpp"
#include "support/raw_server.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::string& chat = chat_body;
// 72 bytes: 18 + max_tokens 9 = 27, exactly what the mock reports (18 + 9).
const std::string exact_chat =
    R"({"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]})";

std::uint64_t estimate(const std::string& body) {
    return (body.size() + 3) / 4;
}

class Budgets : public KeyedGateway {
  protected:
    static std::string key(const std::string& id, const std::string& token,
                           const std::string& budget, const std::string& extra = "",
                           const std::string& guardrails = "{}") {
        return KeyedGateway::key(id, token,
                                 R"("budget":)" + budget + R"(,"guardrails":)" + guardrails +
                                     (extra.empty() ? "" : "," + extra));
    }
    std::string pricing(const std::string& json) { return files.write("pricing.json", json); }
    /// 300 copies of `body` from vk-1, all in flight at once.
    std::vector<int> fire(const std::string& body) {
        return concurrent_statuses(
            gw.port,
            make_request("POST", "/v1/chat/completions",
                         {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}},
                         body),
            300);
    }

    temp_dir files;
};

TEST_F(Budgets, P12_SettledToReportedUsageSoASecondRequestFits) {
    // 2·charge − 1 = 57: the second fits only because the first was settled at 28.
    start(key("key-1", "vk-1", R"({"total_tokens":57})"));
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-1")->status, 200);
    auto r = post("vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    // The ledger holds exactly 28 + 28, nothing left reserved: 56 + 29 attempted.
    EXPECT_EQ(r->body, R"({"error":{"message":"budget exceeded: limit=57 attempted=85",)"
                       R"("type":"insufficient_quota","code":"budget_exceeded"}})");
    EXPECT_EQ(mock.request_count(), 2);
    auto m = http_request(gw.port, "GET", "/metrics");
    EXPECT_NE(m->body.find(R"("budget_exceeded":1)"), std::string::npos) << m->body;
}

TEST_F(Budgets, P13_ProjectBudgetIsSharedByItsKeys) {
    const std::string project = R"("project_id":"p","project_budget":{"total_tokens":30})";
    start(key("key-1", "vk-1", "{}", project) + "," + key("key-2", "vk-2", "{}", project));
    EXPECT_EQ(post("vk-1")->status, 200);  // 28 spent of 30
    auto r = post("vk-2");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find(R"("code":"budget_exceeded")"), std::string::npos) << r->body;
    EXPECT_EQ(mock.request_count(), 1);
}

TEST_F(Budgets, P14_TenantBudgetIsSharedByItsKeys) {
    const std::string tenant = R"("tenant_id":"t","tenant_budget":{"total_tokens":30})";
    start(key("key-1", "vk-1", "{}", tenant) + "," + key("key-2", "vk-2", "{}", tenant) + "," +
          key("key-3", "vk-3", "{}"));
    EXPECT_EQ(post("vk-1")->status, 200);
    EXPECT_EQ(post("vk-2")->status, 402);
    EXPECT_EQ(post("vk-3")->status, 200);  // another tenant
}

TEST_F(Budgets, FailuresRollBackAndRejectionsConsumeNothing) {
    // A budget of exactly one charge: a 500 from the upstream, a guardrail 403 and a schema
    // 400 must leave it whole for the request that follows.
    start(key("key-1", "vk-1", R"({"total_tokens":29})", "",
              R"({"deny_models":["bad"],"validate_schema":true})"));
    EXPECT_EQ(post("vk-1", chat, {{"x-mock-status", "500"}})->status, 500);
    EXPECT_EQ(post("vk-1", R"({"model":"bad","max_tokens":10,"messages":[]})")->status, 403);
    EXPECT_EQ(post("vk-1", R"({"model":"m","max_tokens":10})")->status, 400);  // no messages
    EXPECT_EQ(post("vk-1")->status, 200);
}

TEST_F(Budgets, GetRequestsAreFreeModelLookupsSpendNothing) {
    // A token budget and a tpm far below one default output charge (4,096): a GET that
    // reserved, spent or counted it would be refused at once. Issue 19 item 5: each
    // GET /v1/models/{id} used to reserve and spend the default output.
    start(key("key-1", "vk-1", R"({"total_tokens":100})", R"("limits":{"tpm":100})"),
          {"--admin-token", "adm"});
    const http_headers admin = {{"Authorization", "Bearer adm"}};
    const auto before = http_request(gw.port, "GET", "/admin/budgets", "", admin);
    ASSERT_TRUE(before);
    ASSERT_EQ(before->status, 200) << before->body;
    for (int i = 0; i < 30; ++i) {
        auto r = http_request(gw.port, "GET", "/v1/models/m-" + std::to_string(i), "",
                              {{"Authorization", "Bearer vk-1"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << i << ": " << r->body;
    }
    // The ledger is untouched: no reservation opened, none settled.
    EXPECT_EQ(http_request(gw.port, "GET", "/admin/budgets", "", admin)->body, before->body);
    EXPECT_EQ(mock.request_count(), 30);
    // A POST is still charged: 28 reported, settled.
    EXPECT_EQ(post("vk-1")->status, 200);
    auto after = http_request(gw.port, "GET", "/admin/budgets", "", admin);
    EXPECT_NE(after->body.find(R"("key_id":"key-1","spent_tokens":28,"reserved_tokens":0)"),
              std::string::npos)
        << after->body;
}

TEST(FreeRequests, AUsageInAGetAnswerIsNotChargedAgain) {
    // GET /v1/responses/{id} returns a stored response with the usage it was paid for when it
    // was made. Settled to that usage, three reads would put 300 tokens in a tpm of 150.
    const std::string stored =
        R"({"id":"resp_1","object":"response","status":"completed",)"
        R"("usage":{"input_tokens":40,"output_tokens":60,"total_tokens":100}})";
    raw_server up([&](int fd) {
        std::string buf;
        while (read_request(fd, buf, 2s)) {
            if (!send_all(fd,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          "Content-Length: " +
                              std::to_string(stored.size()) + "\r\n\r\n" + stored))
                return;
        }
    });
    running_gateway gw;
    gw.start(
        R"({"backends":[{"name":"raw","base_url":"http://127.0.0.1:)" + std::to_string(up.port()) +
            R"(/v1"}],"virtual_keys":[)" +
            virtual_key_json("k", "vk-1", R"("limits":{"tpm":150},"budget":{"total_tokens":150})") +
            R"(],"router":{"default_backends":[{"backend":"raw"}]}})",
        {"--admin-token", "adm"});
    const http_headers admin = {{"Authorization", "Bearer adm"}};
    const auto before = http_request(gw.port, "GET", "/admin/budgets", "", admin);
    ASSERT_TRUE(before);
    for (int i = 0; i < 3; ++i) {
        auto r = http_request(gw.port, "GET", "/v1/responses/resp_1", "",
                              {{"Authorization", "Bearer vk-1"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << i << ": " << r->body;
    }
    EXPECT_EQ(http_request(gw.port, "GET", "/admin/budgets", "", admin)->body, before->body);
}

// Issue 20: a JSON answer sent chunked (no Content-Length) is relayed as it comes, and its
// `usage` settles the request; before, only buffered answers were read, so such a request
// settled at its charge — here the 4,096-token default output.
class ChunkedJsonUsage : public ::testing::Test {
  protected:
    // The answer, in two pieces: the usage is in the second.
    static constexpr std::string_view head_part = R"({"id":"c1","object":"chat.completion",)";
    static constexpr std::string_view tail_part =
        R"("choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],)"
        R"("usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
    // No max_tokens: charged estimate + 4,096, far from the 18 reported.
    const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
    const std::uint64_t charge = estimate(body) + 4096;

    static std::string chunk(std::string_view data) {
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        return size + std::string(data) + "\r\n";
    }

    /// Answers each request chunked: the head and the first piece, then (once `release`
    /// holds, or after 10 s) the second piece and the end.
    void serve(int fd) {
        std::string buf;
        while (read_request(fd, buf, 2s)) {
            if (!send_all(fd,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n" +
                              chunk(head_part)))
                return;
            eventually([&] { return release.load(); }, 10s);
            if (!send_all(fd, chunk(tail_part) + "0\r\n\r\n"))
                return;
        }
    }

    void start(const std::vector<std::string>& args = {}) {
        std::vector<std::string> all = {"--admin-token", "adm"};
        all.insert(all.end(), args.begin(), args.end());
        gw.start(R"({"backends":[{"name":"raw","base_url":"http://127.0.0.1:)" +
                     std::to_string(up.port()) + R"(/v1"}],"virtual_keys":[)" +
                     virtual_key_json("k", "vk-1", R"("budget":{"total_tokens":100000})") +
                     R"(],"router":{"default_backends":[{"backend":"raw"}]}})",
                 all);
    }

    /// The key's ledger line once nothing is reserved any more (else the last one seen).
    std::string settled_ledger() {
        std::string line;
        eventually(
            [&] {
                auto r = http_request(gw.port, "GET", "/admin/budgets", "",
                                      {{"Authorization", "Bearer adm"}});
                const auto at = r ? r->body.find(R"("key_id":"k",)") : std::string::npos;
                if (at == std::string::npos)
                    return false;
                line = r->body.substr(at, r->body.find(R"(,"updated_at_ms")", at) - at);
                return line.find(R"("reserved_tokens":0)") != std::string::npos;
            },
            10s);
        return line;
    }

    std::atomic<bool> release{false};
    raw_server up{[this](int fd) { serve(fd); }};
    running_gateway gw;  // last: stopped first, while the upstream still answers
};

// A loopback client that reads the raw bytes of one answer as they arrive.
class raw_client {
  public:
    explicit raw_client(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~raw_client() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    bool send(std::string_view data) { return fd_ >= 0 && send_all(fd_, data); }
    /// Reads until `text` has been received (true) or `limit` passes or the peer closes.
    bool read_until(std::string_view text, std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (received.find(text) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return false;
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0)
                return false;
            received.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

    std::string received;

  private:
    int fd_;
};

TEST_F(ChunkedJsonUsage, IsRelayedAsItComesAndSettlesAtTheReportedUsage) {
    start();
    raw_client c(gw.port);
    ASSERT_TRUE(c.send(make_request(
        "POST", "/v1/chat/completions",
        {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}}, body)));
    // The client has the first piece while the upstream still holds the second: the answer
    // is relayed, not read whole first.
    EXPECT_TRUE(c.read_until(head_part, 10s)) << c.received;
    EXPECT_EQ(c.received.find("usage"), std::string::npos) << c.received;
    release = true;
    ASSERT_TRUE(c.read_until("\r\n0\r\n\r\n", 10s)) << c.received;
    EXPECT_NE(c.received.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << c.received;
    EXPECT_NE(c.received.find(tail_part), std::string::npos) << c.received;
    // Settled at the usage's 18 tokens, not at the charge.
    EXPECT_EQ(settled_ledger(), R"("key_id":"k","spent_tokens":18,"reserved_tokens":0)")
        << "charge " << charge;
}

TEST_F(ChunkedJsonUsage, OverTheUsageCapSettlesAtTheCharge) {
    // 64 bytes: the answer outgrows it, so its usage is not read and the charge stands.
    release = true;
    start({"--proxy-usage-max-body-bytes", "64", "--log-level", "debug"});
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", body,
                          {{"Authorization", "Bearer vk-1"}, {"Content-Type", "application/json"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string(head_part) + std::string(tail_part));
    EXPECT_EQ(settled_ledger(), R"("key_id":"k","spent_tokens":)" + std::to_string(charge) +
                                    R"(,"reserved_tokens":0)");
    EXPECT_TRUE(eventually(
        [&] { return gw.proc.stderr_text().find("proxy.usage_skipped") != std::string::npos; }, 5s))
        << gw.proc.stderr_text();
}

TEST_F(Budgets, InFlight429AfterReservationIsRolledBack) {
    // Backend max_in_flight 1: the second of two concurrent requests is reserved, then
    // refused at the backend permit (429). Room for two charges: if that reservation leaked,
    // a third request (28 spent + 29 leaked + 29) would not fit in 58.
    start(key("key-1", "vk-1", R"({"total_tokens":58})"), {}, R"(,"max_in_flight":1)");
    const auto slow = make_request("POST", "/v1/chat/completions",
                                   {{"Authorization", "Bearer vk-1"},
                                    {"Content-Type", "application/json"},
                                    {"x-mock-delay-ms", "500"}},
                                   chat);
    auto statuses = concurrent_statuses(gw.port, slow, 2);
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 429}));
    // The first request's backend permit is released when its settlement ends, which may be a
    // moment after its client has the last byte (under ASan, often): a 429 meanwhile is
    // transient, and refunds its reservation. A leak would be permanent: 402 (the budget) or
    // 429 (the permit) for the whole 2 s.
    int last = 0;
    EXPECT_TRUE(eventually(
        [&] {
            last = post("vk-1")->status;
            return last == 200;
        },
        2s, 20ms))
        << "last status " << last;
}

TEST_F(Budgets, UpstreamTimeoutIsRolledBack) {
    start(key("key-1", "vk-1", R"({"total_tokens":29})"), {}, R"(,"timeout_seconds":1)");
    auto r = post("vk-1", chat, {{"x-mock-delay-ms", "2000"}});
    EXPECT_EQ(r->status, 504);
    EXPECT_EQ(post("vk-1")->status, 200);
}

TEST_F(Budgets, ExactTokenBudgetUnderConcurrency) {
    // 300 requests at once on 2 workers against a budget that fits exactly 40 of them
    // (charge 27 = the reported usage): exactly 40 succeed, and the ledger is their usage.
    start(key("key-1", "vk-1", R"({"total_tokens":1080})"), {"--workers", "2"});
    const auto statuses = fire(exact_chat);
    const auto ok = std::count(statuses.begin(), statuses.end(), 200);
    const auto refused = std::count(statuses.begin(), statuses.end(), 402);
    EXPECT_EQ(ok, 40);
    EXPECT_EQ(refused, 260);
    EXPECT_EQ(mock.request_count(), 40);
    auto r = post("vk-1", exact_chat);
    EXPECT_NE(r->body.find("limit=1080 attempted=1107"), std::string::npos) << r->body;
}

TEST_F(Budgets, ExactUsdBudgetUnderConcurrency) {
    // $1 per million input tokens, $2 per million output: 18·1 + 9·2 = 36 µ$ per request,
    // estimated and reported alike; a budget of 40 requests.
    const auto path = pricing(R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6,)"
                              R"("litellm_provider":"openai","mode":"chat"}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":1440})"),
          {"--workers", "2", "--pricing-litellm", path});
    const auto statuses = fire(exact_chat);
    const auto ok = std::count(statuses.begin(), statuses.end(), 200);
    EXPECT_EQ(ok, 40);
    auto r = post("vk-1", exact_chat);
    EXPECT_EQ(r->body, R"({"error":{"message":"cost budget exceeded: limit_usd_micros=1440 )"
                       R"(attempted_usd_micros=1476","type":"insufficient_quota",)"
                       R"("code":"cost_budget_exceeded"}})");
}

TEST_F(Budgets, P16_StreamUsageSettlesTheBudgetAndTheExtraChunkIsRemoved) {
    const std::string stream = R"({"model":"m","stream":true,"max_tokens":10,"messages":[]})";
    const std::string asking =
        R"({"model":"m","stream":true,"max_tokens":10,"stream_options":{"include_usage":true},)"
        R"("messages":[]})";
    // The upstream gets `"stream_options":{"include_usage":true},` (40 bytes) more than
    // `stream`; the mock reports ceil(bytes / 4) + 9.
    const std::uint64_t reported_1 = (stream.size() + 40 + 3) / 4 + 9;
    const std::uint64_t reported_2 = estimate(asking) + 9;
    // The second's charge (estimate + 10) fits only after the first settled at reported_1.
    const std::uint64_t limit = reported_1 + reported_2 + 1;
    start(key("key-1", "vk-1", R"({"total_tokens":)" + std::to_string(limit) + "}"));

    auto first = post("vk-1", stream);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    EXPECT_NE(first->body.find("data: [DONE]"), std::string::npos);
    EXPECT_EQ(first->body.find(R"("usage")"), std::string::npos) << first->body;
    auto rec = http_request(mock.port, "GET", "/__mock/requests");
    EXPECT_NE(rec->body.find(R"(\"stream_options\":{\"include_usage\":true})"), std::string::npos)
        << rec->body;

    // This client asks for usage itself: it gets the usage event.
    auto second = post("vk-1", asking);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 200) << second->body;
    EXPECT_NE(second->body.find(R"("choices":[],)"), std::string::npos) << second->body;
    EXPECT_NE(second->body.find(R"("usage":{)"), std::string::npos) << second->body;

    // Both were settled at what the stream reported (not at their charges of 25 and 34).
    auto third = post("vk-1", stream);
    EXPECT_EQ(third->status, 402);
    const auto expected = "limit=" + std::to_string(limit) + " attempted=" +
                          std::to_string(reported_1 + reported_2 + estimate(stream) + 10);
    EXPECT_NE(third->body.find(expected), std::string::npos) << third->body;
}

TEST_F(Budgets, StreamUsageIsRequestedWhateverStreamOptionsTheClientSent) {
    // docs/governance.md, "Usage accounting": the upstream always gets include_usage=true, the
    // client's other stream options kept; the client that did not ask (false, or absent) sees no
    // usage event.
    start(key("key-1", "vk-1", "{}"));
    const struct {
        std::string options;   // the client's stream_options
        std::string upstream;  // what the upstream must receive (escaped as /__mock shows it)
    } cases[] = {
        {R"({"include_usage":false})", R"(\"stream_options\":{\"include_usage\":true})"},
        {R"({})", R"(\"stream_options\":{\"include_usage\":true})"},
        {R"({ "continuous":1})",
         R"(\"stream_options\":{\"include_usage\":true, \"continuous\":1})"},
        {R"(null)", R"(\"stream_options\":{\"include_usage\":true})"},
    };
    for (const auto& c : cases) {
        http_request(mock.port, "DELETE", "/__mock/requests");
        const auto body =
            R"({"model":"m","stream":true,"stream_options":)" + c.options + R"(,"messages":[]})";
        auto r = post("vk-1", body);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << c.options;
        EXPECT_EQ(r->body.find(R"("usage")"), std::string::npos) << c.options << r->body;
        EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos) << c.options;
        auto rec = http_request(mock.port, "GET", "/__mock/requests");
        EXPECT_NE(rec->body.find(c.upstream), std::string::npos) << c.options << rec->body;
    }
}

TEST_F(Budgets, ResponsesStreamUsageIsCounted) {
    // Responses API streams report usage in response.completed; with it the budget is
    // settled to the reported amount (input estimate + 9), not the 4096-token default.
    const std::string body = R"({"model":"m","stream":true,"input":"hi"})";
    const std::uint64_t charge = estimate(body) + 4096;
    const std::uint64_t reported = estimate(body) + 9;
    start(key("key-1", "vk-1", R"({"total_tokens":)" + std::to_string(charge + reported) + "}"));
    EXPECT_EQ(post("vk-1", body, {}, "/v1/responses")->status, 200);
    EXPECT_EQ(post("vk-1", body, {}, "/v1/responses")->status, 200);
    EXPECT_EQ(post("vk-1", body, {}, "/v1/responses")->status, 402);
}

TEST_F(Budgets, StreamCutByTheClientIsSettledNotLeaked) {
    // Budget = charge + input estimate: after a cut stream settled at its input estimate
    // (nothing seen yet), one more full charge fits; a leaked reservation would hold a whole
    // charge and refuse it.
    const std::string stream = R"({"model":"m","stream":true,"max_tokens":500,"messages":[]})";
    const std::uint64_t charge = estimate(stream) + 500;
    start(key("key-1", "vk-1",
              R"({"total_tokens":)" + std::to_string(charge + estimate(stream)) + "}"));
    {
        http_connection c(gw.port);
        ASSERT_TRUE(c.send(make_request("POST", "/v1/chat/completions",
                                        {{"Authorization", "Bearer vk-1"},
                                         {"Content-Type", "application/json"},
                                         {"x-mock-delay-ms", "0"},
                                         {"x-mock-chunk-delay-ms", "300"}},
                                        stream)));
        // Wait for the head, then hang up mid-stream.
        auto head = c.read_response(500ms);
        EXPECT_FALSE(head);  // the stream is still going
    }
    // The settlement runs when the gateway notices; poll with a deadline (a 402 reserves
    // nothing, so polling is harmless).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        status = post("vk-1", stream)->status;
        if (status == 200)
            break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(status, 200);
}

TEST_F(Budgets, K1_CostOverBudgetIsRefusedBeforeTheUpstream) {
    const auto path = pricing(R"({"m":{"input_cost_per_token":1,"output_cost_per_token":1}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":500000})"), {"--pricing-litellm", path});
    auto r = post("vk-1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 402);
    EXPECT_EQ(r->body, R"({"error":{"message":"cost budget exceeded: limit_usd_micros=500000 )"
                       R"(attempted_usd_micros=29000000","type":"insufficient_quota",)"
                       R"("code":"cost_budget_exceeded"}})");
    EXPECT_EQ(mock.request_count(), 0);
}

TEST_F(Budgets, K2_K3_K4_CostEndpointPolicy) {
    const auto path = pricing(R"({"m":{"input_cost_per_token":1e-6}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":500000})"), {"--pricing-litellm", path});
    auto images = post("vk-1", R"({"model":"m","prompt":"a cat"})", {}, "/v1/images/generations");
    ASSERT_TRUE(images);
    EXPECT_EQ(images->status, 400);
    EXPECT_NE(images->body.find(R"("code":"cost_budget_unsupported_endpoint")"), std::string::npos)
        << images->body;
    auto models =
        http_request(gw.port, "GET", "/v1/models", "", {{"Authorization", "Bearer vk-1"}});
    EXPECT_EQ(models->status, 200);
    auto audio = http_request(
        gw.port, "POST", "/v1/audio/transcriptions",
        "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--b--\r\n",
        {{"Authorization", "Bearer vk-1"}, {"Content-Type", "multipart/form-data; boundary=b"}});
    EXPECT_EQ(audio->status, 400);
    EXPECT_EQ(mock.request_count(), 1);  // only the models list
}

TEST_F(Budgets, PricingErrors) {
    start(key("key-1", "vk-1", R"({"total_usd_micros":500000})"));
    auto r = post("vk-1");
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, R"({"error":{"message":"pricing not configured for cost budgets",)"
                       R"("type":"api_error","code":"pricing_not_configured"}})");
    auto no_model = post("vk-1", R"({"max_tokens":1,"messages":[]})");
    EXPECT_EQ(no_model->status, 400);
    EXPECT_NE(no_model->body.find("missing field `model`"), std::string::npos) << no_model->body;
}

TEST_F(Budgets, K5_ProjectCostBudget) {
    const auto path =
        pricing(R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":1e-6}})");
    // 29 µ$ per request against a project budget of 30: settled at 28, the second is refused.
    start(
        key("key-1", "vk-1", "{}", R"("project_id":"p","project_budget":{"total_usd_micros":30})"),
        {"--pricing-litellm", path});
    EXPECT_EQ(post("vk-1")->status, 200);
    auto r = post("vk-1");
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find("limit_usd_micros=30 attempted_usd_micros=57"), std::string::npos)
        << r->body;
}

TEST_F(Budgets, K6_PriorityTierIsPricedAtItsRate) {
    const auto path = pricing(R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":1e-6,)"
                              R"("input_cost_per_token_priority":1e-5,)"
                              R"("output_cost_per_token_priority":1e-5}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":100})"), {"--pricing-litellm", path});
    const std::string priority =
        R"({"model":"m","max_tokens":10,"service_tier":"priority","messages":[]})";
    EXPECT_EQ(post("vk-1", priority)->status, 402);  // (17 + 10) · 10 = 270 µ$
    EXPECT_EQ(post("vk-1")->status, 200);            // 29 µ$ standard
}

TEST_F(Budgets, K7_ThePricierModelMapTargetIsReserved) {
    const auto path =
        pricing(R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":1e-6},)"
                R"("pricey":{"input_cost_per_token":1e-4,"output_cost_per_token":1e-4}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":1000})"), {"--pricing-litellm", path},
          R"(,"model_map":{"m":"pricey"})");
    auto r = post("vk-1");  // 29 tokens at 100 µ$ = 2900 µ$ > 1000
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find("attempted_usd_micros=2900"), std::string::npos) << r->body;
}

TEST_F(Budgets, K8_CachedTokensAreCheaper) {
    // 10 µ$ per input token, 1 µ$ per cached one, output free: charge 19·10 = 190. The mock
    // reports all 19 cached: 19 µ$. With a budget of 220 the second request fits only then.
    const auto path = pricing(R"({"m":{"input_cost_per_token":1e-5,"output_cost_per_token":0,)"
                              R"("cache_read_input_token_cost":1e-6}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":220})"), {"--pricing-litellm", path});
    const headers cached{{"x-mock-usage", R"({"prompt_tokens_details":{"cached_tokens":19}})"}};
    EXPECT_EQ(post("vk-1", chat, cached)->status, 200);
    EXPECT_EQ(post("vk-1", chat, cached)->status, 200);
}

TEST_F(Budgets, K9_CacheCreationIsChargedAtItsRateOnly) {
    // All 19 input tokens were written to the cache: 19·20 = 380 µ$ spent, not 190 + 380
    // (the input rate charged as well, LiteLLM #9812). A second charge of 190 exceeds 500;
    // the attempt shows what the first really cost.
    const auto path = pricing(R"({"m":{"input_cost_per_token":1e-5,"output_cost_per_token":0,)"
                              R"("cache_creation_input_token_cost":2e-5}})");
    start(key("key-1", "vk-1", R"({"total_usd_micros":500})"), {"--pricing-litellm", path});
    const headers creation{{"x-mock-usage", R"({"cache_creation_input_tokens":19})"}};
    EXPECT_EQ(post("vk-1", chat, creation)->status, 200);
    auto r = post("vk-1", chat, creation);
    EXPECT_EQ(r->status, 402);
    EXPECT_NE(r->body.find("attempted_usd_micros=570"), std::string::npos) << r->body;
}

TEST(BudgetsCli, BadPricingFileIsFatal) {
    temp_dir dir;
    const auto bad = dir.write("bad.json", R"({"m":{"input_cost_per_token":-1}})");
    child_process p;
    p.start(DITTO_GATEWAY_BIN, {dir.write("gateway.json", basic_config(9)), "--pricing-litellm",
                                bad, "--listen", "127.0.0.1:0"});
    EXPECT_EQ(p.wait_exit(10s), 1);
    EXPECT_NE(p.stderr_text().find("negative"), std::string::npos) << p.stderr_text();
}

}  // namespace
}  // namespace ditto::test
