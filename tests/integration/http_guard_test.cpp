// HTTP/1.1 behaviour of the proxy path as clients and upstreams see it, guarded before the
// server's hot path is rewritten (own parser, heads written as bytes, one deadline per
// connection): pipelining, chunked request bodies, framing refusals, bodiless answers,
// obs-fold, duplicate header order, interim answers and streams followed by more requests.
// Every case runs the real gateway in front of either ditto-mock-upstream (which records
// what it received) or a scripted raw-socket upstream (exact bytes both ways).
#include <atomic>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/gateway_fixture.hpp"
#include "support/raw_server.hpp"
#include "support/wait.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

constexpr auto read_timeout = 5s;

const headers auth_json = {{"Authorization", "Bearer vk-test-1"},
                           {"Content-Type", "application/json"}};

std::string chat_body(const std::string& model, const std::string& content, bool stream = false) {
    return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
           R"("}])" + (stream ? R"(,"stream":true)" : "") + "}";
}

std::string post_chat(const std::string& body, const headers& extra = {}) {
    headers h = auth_json;
    h.insert(h.end(), extra.begin(), extra.end());
    return make_request("POST", "/v1/chat/completions", h, body);
}

// Every value of `name` (lowercase) in the order received.
std::vector<std::string> values_of(const http_response& r, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : r.headers) {
        if (k == name)
            out.push_back(v);
    }
    return out;
}

std::size_t count_of(const std::string& haystack, std::string_view needle) {
    std::size_t n = 0;
    for (auto p = haystack.find(needle); p != std::string::npos;
         p = haystack.find(needle, p + needle.size())) {
        ++n;
    }
    return n;
}

// ---- the gateway in front of ditto-mock-upstream ----

// One gateway in front of one mock for the whole suite; the mock's log is cleared before each
// case, so a case reads exactly the requests it caused.
class HttpGuard : public gateway_over_mock<HttpGuard> {};

// A chat answer from the mock for `model`: 200, JSON, the model echoed.
void expect_chat_answer(const std::optional<http_response>& r, const std::string& model,
                        const char* which) {
    ASSERT_TRUE(r) << which << ": no answer";
    EXPECT_EQ(r->status, 200) << which << ": " << r->body;
    EXPECT_EQ(r->header("content-type"), "application/json") << which;
    EXPECT_NE(r->body.find(R"("object":"chat.completion")"), std::string::npos)
        << which << ": " << r->body;
    EXPECT_NE(r->body.find(R"("model":")" + model + "\""), std::string::npos)
        << which << ": " << r->body;
}

// ---- 1. pipelined POSTs with bodies ----

TEST_F(HttpGuard, PipelinedPostsWithBodiesAreAnsweredInOrder) {
    // Three POSTs with JSON bodies of different sizes in one write; the mock echoes each
    // body's model, so an answer given to the wrong request shows.
    const std::string a = chat_body("model-a", "first");
    const std::string b = chat_body("model-b", std::string(3000, 'b'));
    const std::string e = R"({"model":"model-e","input":"third"})";
    http_connection c(gw->port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(
        c.send(post_chat(a) + post_chat(b) + make_request("POST", "/v1/embeddings", auth_json, e)));
    auto ra = c.read_response(read_timeout);
    auto rb = c.read_response(read_timeout);
    auto re = c.read_response(read_timeout);
    ASSERT_TRUE(ra && rb && re) << "an answer is missing";
    expect_chat_answer(ra, "model-a", "first");
    expect_chat_answer(rb, "model-b", "second");
    EXPECT_EQ(re->status, 200) << re->body;
    EXPECT_NE(re->body.find(R"("object":"list")"), std::string::npos) << re->body;
    EXPECT_NE(re->body.find(R"("model":"model-e")"), std::string::npos) << re->body;
    // Each answer's usage is counted from its own body (the mock's ceil(bytes / 4)).
    EXPECT_NE(rb->body.find(R"("prompt_tokens":)" + std::to_string((b.size() + 3) / 4)),
              std::string::npos)
        << rb->body;
    for (const auto* r : {&ra, &rb, &re})
        EXPECT_NE((*r)->header("connection"), "close");

    // The upstream got the three bodies whole, in order.
    const auto rec = recorded();
    const auto pa = rec.find(R"(\"model\":\"model-a\")");
    const auto pb = rec.find(R"(\"model\":\"model-b\")");
    const auto pe = rec.find(R"(\"model\":\"model-e\")");
    ASSERT_NE(pa, std::string::npos) << rec;
    ASSERT_NE(pb, std::string::npos) << rec;
    ASSERT_NE(pe, std::string::npos) << rec;
    EXPECT_LT(pa, pb);
    EXPECT_LT(pb, pe);
    EXPECT_NE(rec.find(R"("body_bytes":)" + std::to_string(b.size())), std::string::npos);

    // And the connection is still in step for one more.
    ASSERT_TRUE(c.send(post_chat(chat_body("model-d", "fourth"))));
    expect_chat_answer(c.read_response(read_timeout), "model-d", "fourth");
}

TEST_F(HttpGuard, PipelinedPostSplitAcrossWritesIsAnsweredInOrder) {
    // The second request's head and body arrive in pieces behind the first, cut inside the
    // head and inside the body.
    const std::string first = post_chat(chat_body("model-a", "one"));
    const std::string second = post_chat(chat_body("model-b", "two"));
    const auto cut_head = second.find("\r\n") + 5;
    const auto cut_body = second.size() - 7;
    http_connection c(gw->port);
    ASSERT_TRUE(c.send(first + second.substr(0, cut_head)));
    expect_chat_answer(c.read_response(read_timeout), "model-a", "first");
    ASSERT_TRUE(c.send(second.substr(cut_head, cut_body - cut_head)));
    ASSERT_TRUE(c.send(second.substr(cut_body)));
    expect_chat_answer(c.read_response(read_timeout), "model-b", "second");
}

// ---- 2. chunked request bodies ----

// `body` as chunks of at most `piece` bytes, then the last chunk.
std::string chunked(const std::string& body, std::size_t piece) {
    std::string out;
    for (std::size_t at = 0; at < body.size(); at += piece) {
        const auto part = body.substr(at, piece);
        char size[16];
        std::snprintf(size, sizeof(size), "%zx", part.size());
        out.append(size).append("\r\n").append(part).append("\r\n");
    }
    return out + "0\r\n\r\n";
}

TEST_F(HttpGuard, ChunkedRequestBodyReachesTheUpstreamWhole) {
    // Several chunks, then a second request pipelined behind the last chunk: the body is
    // read to its end and no further.
    const std::string body = chat_body("model-chunked", std::string(200, 'c'));
    const std::string raw = chunked(body, 50);
    ASSERT_GE(count_of(raw, "32\r\n"), 4u);
    headers h = auth_json;
    h.emplace_back("Transfer-Encoding", "chunked");
    http_connection c(gw->port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(make_request("POST", "/v1/chat/completions", h) + raw +
                       post_chat(chat_body("model-after", "next"))));
    auto r = c.read_response(read_timeout);
    expect_chat_answer(r, "model-chunked", "chunked");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find(R"("prompt_tokens":)" + std::to_string((body.size() + 3) / 4)),
              std::string::npos)
        << r->body;
    expect_chat_answer(c.read_response(read_timeout), "model-after", "pipelined after");

    const auto rec = recorded();
    EXPECT_EQ(count_of(rec, R"("seq":)"), 2u) << rec;
    EXPECT_NE(rec.find(R"("body_bytes":)" + std::to_string(body.size())), std::string::npos) << rec;
    EXPECT_NE(rec.find(std::string(200, 'c')), std::string::npos) << rec;
    // Read whole before it goes upstream, it goes with a length, not re-chunked.
    EXPECT_NE(rec.find(R"("content-length":")" + std::to_string(body.size()) + "\""),
              std::string::npos)
        << rec;
    EXPECT_EQ(rec.find("transfer-encoding"), std::string::npos) << rec;
}

TEST_F(HttpGuard, ChunkExtensionsAndTrailersAreAcceptedAndTrailersNotForwarded) {
    const std::string body = chat_body("model-ext", "extensions");
    const std::string one = body.substr(0, 10);
    const std::string two = body.substr(10);
    char size[16];
    std::snprintf(size, sizeof(size), "%zX", two.size());  // upper-case hex digits
    headers h = auth_json;
    h.emplace_back("Transfer-Encoding", "chunked");
    http_connection c(gw->port);
    ASSERT_TRUE(c.send(make_request("POST", "/v1/chat/completions", h) + "a;ext=1\r\n" + one +
                       "\r\n" + size + ";a=b;c=\"d e\"\r\n" + two +
                       "\r\n0\r\nX-Trailer: smuggled\r\n\r\n"));
    expect_chat_answer(c.read_response(read_timeout), "model-ext", "chunked with extensions");
    ASSERT_TRUE(c.send(post_chat(chat_body("model-after", "next"))));
    expect_chat_answer(c.read_response(read_timeout), "model-after", "after the trailer");
    const auto rec = recorded();
    EXPECT_NE(rec.find(R"("body_bytes":)" + std::to_string(body.size())), std::string::npos) << rec;
    EXPECT_EQ(rec.find("x-trailer"), std::string::npos) << rec;
    EXPECT_EQ(rec.find("smuggled"), std::string::npos) << rec;
}

// ---- 3. conflicting framing ----

// A POST to the chat endpoint with the given framing header lines and bytes after the head.
std::string framed_post(const std::string& framing, const std::string& after_head) {
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n"
           "Content-Type: application/json\r\n" +
           framing + "\r\n" + after_head;
}

const std::string smuggled_get =
    "GET /v1/models/SMUGGLED HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n\r\n";

// A head refused with 400 bad_request and Connection: close; nothing more is answered on the
// connection (no smuggled request) and it is closed.
void expect_refused_and_closed(int port, const std::string& request) {
    http_connection c(port);
    ASSERT_TRUE(c.send(request));
    auto r = c.read_response(read_timeout);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find(R"("code":"bad_request")"), std::string::npos) << r->body;
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_FALSE(c.read_response(1s)) << "answered bytes after a refused head";
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(HttpGuard, ContentLengthWithTransferEncodingIsRefusedAndTheConnectionClosed) {
    const std::string body = "0\r\n\r\n" + smuggled_get;
    for (const auto& framing : std::vector<std::string>{
             "Content-Length: " + std::to_string(body.size()) +
                 "\r\nTransfer-Encoding: chunked\r\n",
             "Transfer-Encoding: chunked\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\n"}) {
        SCOPED_TRACE(framing);
        expect_refused_and_closed(gw->port, framed_post(framing, body));
    }
    EXPECT_EQ(recorded(), "[]");
}

TEST_F(HttpGuard, DifferingContentLengthsAreRefusedAndTheConnectionClosed) {
    const std::string body = chat_body("model-x", "hi");
    const auto n = std::to_string(body.size());
    const auto m = std::to_string(body.size() + smuggled_get.size());
    for (const auto& framing :
         std::vector<std::string>{"Content-Length: " + n + "\r\nContent-Length: " + m + "\r\n",
                                  "Content-Length: " + m + "\r\nContent-Length: " + n + "\r\n",
                                  "Content-Length: " + n + ", " + m + "\r\n"}) {
        SCOPED_TRACE(framing);
        expect_refused_and_closed(gw->port, framed_post(framing, body + smuggled_get));
    }
    EXPECT_EQ(recorded(), "[]");
}

TEST_F(HttpGuard, IdenticalContentLengthsAreAcceptedAsOne) {
    // Current behaviour (Beast 1.81, RFC 9110 §8.6 allows it): the same length twice, or as
    // a list of equal values, is that length.
    const std::string body = chat_body("model-same", "hi");
    const auto n = std::to_string(body.size());
    http_connection c(gw->port);
    for (const auto& framing :
         std::vector<std::string>{"Content-Length: " + n + "\r\nContent-Length: " + n + "\r\n",
                                  "Content-Length: " + n + ", " + n + "\r\n"}) {
        SCOPED_TRACE(framing);
        ASSERT_TRUE(c.send(framed_post(framing, body)));
        expect_chat_answer(c.read_response(read_timeout), "model-same", "same lengths");
    }
    // Both on one connection, which is still in step.
    ASSERT_TRUE(c.send(post_chat(chat_body("model-after", "next"))));
    expect_chat_answer(c.read_response(read_timeout), "model-after", "after");
    const auto rec = recorded();
    EXPECT_EQ(count_of(rec, R"("seq":)"), 3u) << rec;
    EXPECT_EQ(count_of(rec, R"("content-length":")" + n + "\""), 2u) << rec;
    EXPECT_EQ(count_of(rec, R"("body_bytes":)" + n + ","), 2u) << rec;
}

// ---- 5. obs-fold ----

TEST_F(HttpGuard, ObsFoldIsRefusedWith400) {
    // RFC 9112 §5.2: a header line that starts with SP or HTAB continues the previous one.
    // Beast's parser would join it with one SP; the server finds the fold in the head's raw
    // bytes and refuses it (docs/http-server.md), so no later hop reads it differently.
    const std::string body = chat_body("model-fold", "hi");
    for (const char* fold : {" ", "\t"}) {
        SCOPED_TRACE(fold[0] == ' ' ? "SP" : "HTAB");
        http_connection c(gw->port);
        ASSERT_TRUE(
            c.send(framed_post(std::string("X-Folded: a\r\n") + fold + "b\r\n" +
                                   "Content-Length: " + std::to_string(body.size()) + "\r\n",
                               body)));
        auto r = c.read_response(read_timeout);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << r->body << "\nthe upstream received: " << recorded();
        EXPECT_NE(r->body.find(R"("code":"bad_request")"), std::string::npos) << r->body;
        EXPECT_EQ(r->header("connection"), "close");
        EXPECT_TRUE(c.wait_closed(3s));
    }
    EXPECT_EQ(recorded(), "[]");
}

// ---- 4. HEAD ----

TEST_F(HttpGuard, HeadOnModelsIs405AndTheConnectionStaysUsable) {
    http_connection c(gw->port);
    ASSERT_TRUE(c.send(make_request("HEAD", "/v1/models", auth_json)));
    auto h = c.read_response(read_timeout, true);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 405);
    EXPECT_EQ(h->header("allow"), "GET");
    EXPECT_EQ(h->header("content-length"), "0");
    EXPECT_NE(h->header("connection"), "close");
    // A body byte after the head would be read as the start of the next status line.
    ASSERT_TRUE(c.send(make_request("GET", "/v1/models", auth_json)));
    auto g = c.read_response(read_timeout);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 200) << g->body;
    EXPECT_NE(g->body.find(R"("object":"list")"), std::string::npos) << g->body;
    EXPECT_EQ(recorded().find(R"("method":"HEAD")"), std::string::npos);
}

// GET then HEAD on /v1/chat/completions: both answered `status`, the GET with a body whose
// length its head declares, the HEAD with the same Content-Length (its missing body is checked
// by the read: a body byte would be read as the next answer's start).
void get_then_head(http_connection& c, const headers& hs, int status,
                   std::optional<http_response>& g, std::optional<http_response>& h) {
    ASSERT_TRUE(c.send(make_request("GET", "/v1/chat/completions", hs)));
    g = c.read_response(read_timeout);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, status);
    ASSERT_FALSE(g->body.empty());
    EXPECT_EQ(g->header("content-length"), std::to_string(g->body.size()));
    ASSERT_TRUE(c.send(make_request("HEAD", "/v1/chat/completions", hs)));
    h = c.read_response(read_timeout, true);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, status);
    EXPECT_EQ(h->header("content-length"), g->header("content-length"));
}

TEST_F(HttpGuard, HeadOnChatCompletionsIsProxiedAndAnsweredWithTheGetHeadOnly) {
    // The mock has no HEAD (nor GET) route there: both are its 404, and the HEAD answer is
    // the GET answer's head without the body.
    http_connection c(gw->port);
    std::optional<http_response> g, h;
    get_then_head(c, auth_json, 404, g, h);
    ASSERT_TRUE(g && h);
    EXPECT_EQ(h->header("content-type"), "application/json");
    EXPECT_EQ(h->header("x-ditto-backend"), "primary");
    EXPECT_FALSE(h->has_header("transfer-encoding"));
    EXPECT_NE(h->header("connection"), "close");

    ASSERT_TRUE(c.send(post_chat(chat_body("model-after", "next"))));
    expect_chat_answer(c.read_response(read_timeout), "model-after", "after HEAD");
    // The mock's sequence numbers run on across cases: the HEAD entry is found by method.
    const auto rec = recorded();
    EXPECT_EQ(count_of(rec, R"("method":"HEAD")"), 1u) << rec;
    const auto at = rec.find(R"("method":"HEAD")");
    ASSERT_NE(at, std::string::npos) << rec;
    EXPECT_EQ(rec.find(R"("target":)", at), rec.find(R"("target":"/v1/chat/completions")", at))
        << rec;
}

TEST_F(HttpGuard, HeadRefusedByTheGatewayIsTheGetAnswersHeadWithoutItsBody) {
    // The gateway's own answer (a 401 with a JSON error body) to a HEAD: the head a GET
    // gets, no body bytes, and the connection stays usable.
    const headers bad_key = {{"Authorization", "Bearer vk-wrong"}};
    http_connection c(gw->port);
    std::optional<http_response> g, h;
    get_then_head(c, bad_key, 401, g, h);
    ASSERT_TRUE(g && h);
    EXPECT_EQ(h->header("content-type"), g->header("content-type"));
    EXPECT_FALSE(h->has_header("transfer-encoding"));
    EXPECT_NE(h->header("connection"), "close");

    ASSERT_TRUE(c.send(post_chat(chat_body("model-after", "next"))));
    expect_chat_answer(c.read_response(read_timeout), "model-after", "after HEAD");
    EXPECT_EQ(mock->request_count(), 1);
}

// ---- 8. a request pipelined behind a streamed answer ----

// A streamed chat answer from the mock for `model`: SSE, chunked, every word, [DONE] last.
void expect_stream_answer(const std::optional<http_response>& r, const std::string& model,
                          const char* which) {
    ASSERT_TRUE(r) << which << ": no answer";
    EXPECT_EQ(r->status, 200) << which << ": " << r->body;
    EXPECT_TRUE(r->header("content-type").starts_with("text/event-stream")) << which;
    EXPECT_TRUE(r->chunked) << which;
    EXPECT_TRUE(r->body.starts_with("data: {")) << which << ": " << r->body;
    EXPECT_TRUE(r->body.ends_with("data: [DONE]\n\n")) << which << ": " << r->body;
    EXPECT_EQ(count_of(r->body, "data: [DONE]"), 1u) << which;
    EXPECT_NE(r->body.find(" deterministic"), std::string::npos) << which << ": " << r->body;
    EXPECT_NE(r->body.find(R"("model":")" + model + "\""), std::string::npos)
        << which << ": " << r->body;
    EXPECT_EQ(r->body.find(R"("model":"model-)"), r->body.find(R"("model":")" + model + "\""))
        << which << ": another request's events in this stream";
}

TEST_F(HttpGuard, RequestsPipelinedBehindStreamsAreAnsweredInOrder) {
    http_connection c(gw->port);
    ASSERT_TRUE(c.send(post_chat(chat_body("model-s1", "one", true)) +
                       post_chat(chat_body("model-n", "two")) +
                       post_chat(chat_body("model-s2", "three", true))));
    expect_stream_answer(c.read_response(read_timeout), "model-s1", "first stream");
    expect_chat_answer(c.read_response(read_timeout), "model-n", "plain between streams");
    expect_stream_answer(c.read_response(read_timeout), "model-s2", "second stream");
    EXPECT_EQ(count_of(recorded(), R"("seq":)"), 3u);
}

TEST_F(HttpGuard, RequestSentWhileAStreamIsUnderwayIsAnsweredAfterIt) {
    // 50 ms between events: the stream lasts over half a second, and the second request is
    // sent once the mock has begun answering the first.
    http_connection c(gw->port);
    ASSERT_TRUE(
        c.send(post_chat(chat_body("model-slow", "one", true), {{"x-mock-chunk-delay-ms", "50"}})));
    ASSERT_TRUE(eventually([] { return mock->request_count() == 1; }, 5s));
    ASSERT_TRUE(c.send(post_chat(chat_body("model-next", "two"))));
    expect_stream_answer(c.read_response(read_timeout), "model-slow", "stream");
    expect_chat_answer(c.read_response(read_timeout), "model-next", "sent during the stream");
    EXPECT_EQ(mock->request_count(), 2);
}

// ---- the gateway in front of a scripted raw upstream ----

// In a scripted answer: send what came before in its own write, then pause briefly.
constexpr std::string_view pause = "<pause>";

// Answers each request, on whichever connection, with the next scripted bytes and keeps the
// heads it read (request line and header lines, CRLF-terminated); a connection closes when
// the script is used up. The requests' bodies must be Content-Length framed.
class scripted_upstream {
  public:
    explicit scripted_upstream(std::vector<std::string> answers)
        : answers_(std::move(answers)), server_([this](int fd) { serve(fd); }) {}
    int port() const { return server_.port(); }
    int connections() const { return server_.connections(); }
    std::vector<std::string> heads() const {
        std::lock_guard lock(mu_);
        return heads_;
    }

  private:
    void serve(int fd) {
        std::string buf;
        while (next_ < answers_.size()) {
            auto head = read_request(fd, buf, 5s);
            if (!head)
                return;
            {
                std::lock_guard lock(mu_);
                heads_.push_back(std::move(*head));
            }
            // Each piece goes out in its own write, a moment after the previous one, so the
            // gateway most likely reads it on its own (the assertions hold either way).
            std::string_view rest = answers_[next_++];
            for (;;) {
                const auto at = rest.find(pause);
                if (!send_all(fd, rest.substr(0, at)))
                    return;
                if (at == std::string_view::npos)
                    break;
                rest.remove_prefix(at + pause.size());
                std::this_thread::sleep_for(30ms);
            }
        }
    }

    std::vector<std::string> answers_;
    std::atomic<std::size_t> next_{0};
    mutable std::mutex mu_;
    std::vector<std::string> heads_;
    raw_server server_;  // last: its threads use the members above
};

std::string lowercase(std::string s) {
    for (auto& ch : s)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string chunk(const std::string& data) {
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", data.size());
    return std::string(size) + "\r\n" + data + "\r\n";
}

const std::string chat_json =
    R"({"id":"chatcmpl-raw","object":"chat.completion","model":"raw-model",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"raw"},)"
    R"("finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

std::string json_answer(const std::string& body, const std::string& extra_head = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra_head +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A gateway with one worker, so every request shares one upstream connection pool.
void start_gateway(running_gateway& gw, const scripted_upstream& up) {
    gw.start(basic_config(up.port()), {"--workers", "1"});
}

// ---- 4. HEAD, 204 and 304 from the upstream ----

TEST(HttpGuardRaw, HeadAnswerKeepsItsLengthAndHasNoBody) {
    // The upstream's HEAD answer declares 42 bytes and sends none.
    scripted_upstream up(
        {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         "Content-Length: 42\r\nETag: \"v1\"\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"});
    running_gateway gw;
    start_gateway(gw, up);
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(make_request("HEAD", "/v1/models/a", auth_json)));
    auto h = c.read_response(read_timeout, true);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    EXPECT_EQ(h->header("content-length"), "42");
    EXPECT_EQ(h->header("etag"), "\"v1\"");
    EXPECT_FALSE(h->has_header("transfer-encoding"));
    EXPECT_NE(h->header("connection"), "close");
    // Same client connection, same upstream connection: both still in step.
    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/b", auth_json)));
    auto g = c.read_response(read_timeout);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 200);
    EXPECT_EQ(g->body, "second");
    const auto heads = up.heads();
    ASSERT_EQ(heads.size(), 2u);
    EXPECT_TRUE(heads[0].starts_with("HEAD /v1/models/a HTTP/1.1\r\n")) << heads[0];
    EXPECT_TRUE(heads[1].starts_with("GET /v1/models/b HTTP/1.1\r\n")) << heads[1];
    EXPECT_EQ(up.connections(), 1);
}

// The upstream connection's deadline is lifted once the answer is in: a pooled connection that
// sits idle past the backend's timeout is still reused (the watchdog would otherwise close it
// at the deadline stamped for the first exchange).
TEST(HttpGuardRaw, APooledUpstreamConnectionOutlivesTheDeadlineOfItsLastExchange) {
    scripted_upstream up({json_answer(chat_json), json_answer(chat_json)});
    auto config = basic_config(up.port());
    const std::string_view at = R"("headers": {)";
    config.insert(config.find(at), R"("timeout_seconds": 1, )");
    running_gateway gw;
    gw.start(config, {"--workers", "1"});
    http_connection c(gw.port);
    const auto body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
    ASSERT_TRUE(c.send(make_request("POST", "/v1/chat/completions", auth_json, body)));
    auto first = c.read_response(read_timeout);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200) << first->body;
    // Past the first exchange's deadline (1 s after it began), with the connection idle.
    std::this_thread::sleep_for(1500ms);
    ASSERT_TRUE(c.send(make_request("POST", "/v1/chat/completions", auth_json, body)));
    auto second = c.read_response(read_timeout);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 200) << second->body;
    EXPECT_EQ(up.heads().size(), 2u);
    EXPECT_EQ(up.connections(), 1);
}

TEST(HttpGuardRaw, NoContentAndNotModifiedAreRelayedWithoutABody) {
    scripted_upstream up({"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
                          "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                          "Cache-Control: max-age=60\r\nContent-Length: 100\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird"});
    running_gateway gw;
    start_gateway(gw, up);
    http_connection c(gw.port);

    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/a", auth_json)));
    auto nc = c.read_response(read_timeout);
    ASSERT_TRUE(nc);
    EXPECT_EQ(nc->status, 204);
    EXPECT_EQ(nc->header("x-a"), "1");
    EXPECT_FALSE(nc->has_header("content-length"));
    EXPECT_FALSE(nc->has_header("transfer-encoding"));
    EXPECT_NE(nc->header("connection"), "close");

    auto conditional = auth_json;
    conditional.emplace_back("If-None-Match", "\"v1\"");
    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/b", conditional)));
    auto nm = c.read_response(read_timeout);
    ASSERT_TRUE(nm);
    EXPECT_EQ(nm->status, 304);
    EXPECT_EQ(nm->header("etag"), "\"v1\"");
    EXPECT_EQ(nm->header("cache-control"), "max-age=60");
    // The representation's length is relayed as the upstream sent it; no body follows.
    EXPECT_EQ(nm->header("content-length"), "100");
    EXPECT_FALSE(nm->has_header("transfer-encoding"));
    EXPECT_NE(nm->header("connection"), "close");

    // A body byte after either head would be read as the start of this status line.
    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/c", auth_json)));
    auto ok = c.read_response(read_timeout);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "third");

    const auto heads = up.heads();
    ASSERT_EQ(heads.size(), 3u);
    EXPECT_NE(lowercase(heads[1]).find("\r\nif-none-match: \"v1\"\r\n"), std::string::npos)
        << heads[1];
    EXPECT_EQ(up.connections(), 1);
}

// ---- 6. duplicate headers keep their order ----

TEST(HttpGuardRaw, DuplicateRequestHeadersReachTheUpstreamInOrder) {
    scripted_upstream up({json_answer(chat_json)});
    running_gateway gw;
    start_gateway(gw, up);
    auto h = auth_json;
    h.insert(h.end(), {{"X-Custom", "a"}, {"X-Other", "z"}, {"X-Custom", "b"}, {"x-custom", "c"}});
    auto r = http_request(gw.port, "POST", "/v1/chat/completions", chat_body("gpt-4o-mini", "dups"),
                          h, read_timeout);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    const auto heads = up.heads();
    ASSERT_EQ(heads.size(), 1u);
    const auto head = lowercase(heads[0]);
    const auto a = head.find("\r\nx-custom: a\r\n");
    const auto z = head.find("\r\nx-other: z\r\n");
    const auto b = head.find("\r\nx-custom: b\r\n");
    const auto c = head.find("\r\nx-custom: c\r\n");
    ASSERT_NE(a, std::string::npos) << heads[0];
    EXPECT_NE(z, std::string::npos) << heads[0];
    ASSERT_NE(b, std::string::npos) << heads[0];
    ASSERT_NE(c, std::string::npos) << heads[0];
    // Only the order among fields of one name is significant (RFC 9110 §5.3); today the
    // x-other field goes after the x-custom group (Beast inserts a repeated name after its
    // last occurrence), which this does not pin.
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_EQ(count_of(head, "\r\nx-custom:"), 3u) << heads[0];
}

TEST(HttpGuardRaw, DuplicateResponseHeadersReachTheClientInOrder) {
    // Buffered (a length) and relayed (chunked) answers take different paths to the client.
    scripted_upstream up(
        {json_answer(chat_json,
                     "Set-Cookie: a=1; Path=/\r\nX-Foo: 1\r\nSet-Cookie: b=2\r\n"
                     "X-Foo: 2\r\n"),
         "HTTP/1.1 200 OK\r\nX-Foo: 3\r\nTransfer-Encoding: chunked\r\nSet-Cookie: c=3\r\n"
         "X-Foo: 4\r\nSet-Cookie: d=4\r\n\r\n" +
             chunk("hello") + chunk(" world") + "0\r\n\r\n"});
    running_gateway gw;
    start_gateway(gw, up);
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(post_chat(chat_body("gpt-4o-mini", "cookies"))));
    auto buffered = c.read_response(read_timeout);
    ASSERT_TRUE(buffered);
    EXPECT_EQ(buffered->status, 200) << buffered->body;
    EXPECT_EQ(buffered->body, chat_json);
    EXPECT_EQ(values_of(*buffered, "set-cookie"), (std::vector<std::string>{"a=1; Path=/", "b=2"}));
    EXPECT_EQ(values_of(*buffered, "x-foo"), (std::vector<std::string>{"1", "2"}));

    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/a", auth_json)));
    auto relayed = c.read_response(read_timeout);
    ASSERT_TRUE(relayed);
    EXPECT_EQ(relayed->status, 200);
    EXPECT_TRUE(relayed->chunked);
    EXPECT_EQ(relayed->body, "hello world");
    EXPECT_EQ(values_of(*relayed, "set-cookie"), (std::vector<std::string>{"c=3", "d=4"}));
    EXPECT_EQ(values_of(*relayed, "x-foo"), (std::vector<std::string>{"3", "4"}));
    EXPECT_EQ(up.connections(), 1);
}

// ---- 7. interim (1xx) answers from the upstream ----

// `p` is inserted where the upstream pauses between writes ("" for one write per answer).
void expect_interim_answers_dropped(const std::string& p) {
    // 100 and a 103 with several fields before a buffered chat answer, a 103 before a
    // streamed one, then a plain answer: one client connection, one upstream connection.
    const std::string event = R"(data: {"choices":[{"index":0,"delta":{"content":"hi"}}]})"
                              "\n\n";
    scripted_upstream up({"HTTP/1.1 100 Continue\r\n\r\n" + p +
                              "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n" + p +
                              "Link: </b.js>; rel=preload\r\nX-Hint: 1\r\n\r\n" + p +
                              json_answer(chat_json),
                          "HTTP/1.1 103 Early Hints\r\nLink: </c.css>; rel=preload\r\n\r\n" + p +
                              "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n" +
                              p + chunk(event) + p + chunk("data: [DONE]\n\n") + "0\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird"});
    running_gateway gw;
    start_gateway(gw, up);
    http_connection c(gw.port);

    ASSERT_TRUE(c.send(post_chat(chat_body("gpt-4o-mini", "one"))));
    auto first = c.read_response(read_timeout);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200) << first->body;
    EXPECT_EQ(first->body, chat_json);
    // The interim heads' fields are not merged into the final answer.
    EXPECT_FALSE(first->has_header("link"));
    EXPECT_FALSE(first->has_header("x-hint"));

    ASSERT_TRUE(c.send(post_chat(chat_body("gpt-4o-mini", "two", true))));
    auto second = c.read_response(read_timeout);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 200) << second->body;
    EXPECT_TRUE(second->chunked);
    EXPECT_TRUE(second->header("content-type").starts_with("text/event-stream"));
    EXPECT_NE(second->body.find(event), std::string::npos) << second->body;
    EXPECT_TRUE(second->body.ends_with("data: [DONE]\n\n")) << second->body;
    EXPECT_FALSE(second->has_header("link"));

    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/c", auth_json)));
    auto third = c.read_response(read_timeout);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->status, 200);
    EXPECT_EQ(third->body, "third");
    EXPECT_EQ(up.connections(), 1);
    EXPECT_EQ(up.heads().size(), 3u);
}

// An upstream's chunked answer may end with trailer fields. They are read and dropped
// (docs/http-server.md): never a header of the client's answer, and the upstream connection
// stays in step for the next request.
TEST(HttpGuardRaw, UpstreamTrailersAreDroppedAndTheConnectionStaysInStep) {
    scripted_upstream up({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello") +
                              chunk(" world") + "0\r\nX-Trailer: t\r\nSet-Cookie: evil=1\r\n\r\n",
                          json_answer(chat_json, "")});
    running_gateway gw;
    start_gateway(gw, up);
    http_connection c(gw.port);
    // Both requests at once: the second waits behind the relayed answer and its trailer.
    ASSERT_TRUE(c.send(make_request("GET", "/v1/models/a", auth_json) +
                       post_chat(chat_body("gpt-4o-mini", "after the trailer"))));
    const auto relayed = c.read_response(read_timeout);
    const auto next = c.read_response(read_timeout);
    ASSERT_TRUE(relayed && next);
    EXPECT_EQ(relayed->status, 200);
    EXPECT_EQ(relayed->body, "hello world");
    EXPECT_TRUE(values_of(*relayed, "x-trailer").empty());
    EXPECT_TRUE(values_of(*relayed, "set-cookie").empty());
    EXPECT_EQ(next->status, 200) << next->body;
    EXPECT_EQ(next->body, chat_json);
    EXPECT_EQ(up.connections(), 1);
}

TEST(HttpGuardRaw, InterimAnswersWithHeadersAreDroppedAndTheConnectionStaysInStep) {
    expect_interim_answers_dropped("");
}

TEST(HttpGuardRaw, InterimAnswersArrivingInPiecesAreDroppedAndTheConnectionStaysInStep) {
    // Each interim head, and the final head, in writes of its own or cut inside.
    expect_interim_answers_dropped(std::string(pause));
}

// ---- the client connection's deadline (docs/http-server.md, "One deadline per connection") ----

// A gateway whose client-side timeouts (200 ms) are shorter than what its upstream takes.
class ClientDeadline : public ::testing::Test {
  protected:
    void SetUp() override {
        mock.start();
        gw.start(basic_config(mock.port),
                 {"--workers", "1", "--client-timeout-ms", "200", "--header-timeout-ms", "200"});
    }
    running_mock mock;
    running_gateway gw;
};

// The deadline runs only while the server reads from or writes to the client. An answer the
// upstream takes longer than the deadline to give, and a stream whose events come further
// apart, still reach the client whole: the watchdog must not close the connection under the
// handler (the head's 200 ms stamp) or between two writes of a stream.
TEST_F(ClientDeadline, NoClientDeadlineRunsWhileTheUpstreamWorks) {
    http_connection c(gw.port);
    ASSERT_TRUE(c.send(post_chat(chat_body("model-slow", "hi"), {{"x-mock-delay-ms", "700"}})));
    expect_chat_answer(c.read_response(read_timeout), "model-slow", "slow answer");
    ASSERT_TRUE(
        c.send(post_chat(chat_body("model-gaps", "hi", true), {{"x-mock-chunk-delay-ms", "300"}})));
    expect_stream_answer(c.read_response(15s), "model-gaps", "stream with gaps");
}

// A client that stops sending its body is dropped once --client-timeout-ms has passed, and
// nothing reaches the upstream.
TEST_F(ClientDeadline, AClientThatStallsItsBodyIsDropped) {
    const auto req = post_chat(chat_body("model-stall", "hi"));
    http_connection c(gw.port);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.send(req.substr(0, req.size() - 10)));
    EXPECT_TRUE(c.wait_closed(3s)) << "a stalled body holds the connection";
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
    EXPECT_EQ(mock.request_count(), 0);
}

}  // namespace
}  // namespace ditto::test
