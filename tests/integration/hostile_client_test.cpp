// Hostile clients (issue 19, docs/security.md): request smuggling through Transfer-Encoding,
// dot segments that climb out of /v1, bodies that cannot be read. Each is refused with a clear
// OpenAI-shaped error, and nothing reaches the upstream (the mock records every request).
#include <cstdio>
#include <string>
#include <vector>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

const std::vector<std::pair<std::string, std::string>> auth = {
    {"Authorization", "Bearer vk-test-1"}, {"Content-Type", "application/json"}};
const std::string chat = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})";

// One gateway in front of one mock for the whole suite: every case checks that the mock saw
// nothing, so the mock's log is cleared before each.
class HostileClient : public gateway_over_mock<HostileClient> {};

// ---- item 1: request smuggling through Transfer-Encoding (RFC 9112 §6.1, §6.3) ----

struct smuggle_case {
    const char* name;
    std::string framing;  // the framing header lines of the POST
    std::string body;     // what follows the head
};

class Smuggling : public HostileClient, public ::testing::WithParamInterface<smuggle_case> {};

TEST_P(Smuggling, TransferCodingOtherThanAFinalChunkedIsRefusedAndTheConnectionClosed) {
    // The body is a second request: taken as a 0-byte body, it would be answered as one.
    const auto& c = GetParam();
    http_connection conn(gw->port);
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n"
        "Content-Type: application/json\r\n" +
        c.framing + "\r\n" + c.body));
    auto r = conn.read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find(R"("type":"invalid_request_error")"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(R"("code":"bad_request")"), std::string::npos) << r->body;
    // Beast refuses a Content-Length after `chunked` itself, as a malformed request.
    if (std::string_view(c.name) != "chunked_with_length") {
        EXPECT_NE(r->body.find("Transfer-Encoding"), std::string::npos) << r->body;
    }
    EXPECT_EQ(r->header("connection"), "close");
    // Nothing after the error: no second answer for the smuggled request.
    EXPECT_FALSE(conn.read_response(1s));
    EXPECT_TRUE(conn.wait_closed(3s));
    EXPECT_EQ(recorded(), "[]");
}

const std::string smuggled =
    "GET /v1/models/SMUGGLED HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n\r\n";
const std::string smuggled_chunked = "4\r\n{}\r\n\r\n0\r\n\r\n" + smuggled;

INSTANTIATE_TEST_SUITE_P(
    HostileClient, Smuggling,
    ::testing::Values(
        smuggle_case{"xchunked", "Transfer-Encoding: xchunked\r\n", smuggled},
        smuggle_case{"gzip", "Transfer-Encoding: gzip\r\n", smuggled},
        smuggle_case{"chunked_identity", "Transfer-Encoding: chunked, identity\r\n", smuggled},
        smuggle_case{"empty", "Transfer-Encoding:\r\n", smuggled},
        smuggle_case{"xchunked_with_length",
                     "Transfer-Encoding: xchunked\r\nContent-Length: " +
                         std::to_string(smuggled.size()) + "\r\n",
                     smuggled},
        smuggle_case{"chunked_with_length", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                     smuggled_chunked},
        smuggle_case{"gzip_then_chunked", "Transfer-Encoding: gzip, chunked\r\n", smuggled_chunked},
        smuggle_case{"chunked_twice",
                     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                     smuggled_chunked},
        smuggle_case{"chunked_then_x", "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                     smuggled}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST_F(HostileClient, PlainChunkedBodyStillWorks) {
    http_connection conn(gw->port);
    ASSERT_TRUE(conn.connected());
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", chat.size());
    ASSERT_TRUE(conn.send(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: Chunked\r\n\r\n" +
        std::string(size) + "\r\n" + chat + "\r\n0\r\n\r\n"));
    auto r = conn.read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(recorded().find("/v1/chat/completions"), std::string::npos);
}

// ---- item 9: a body that cannot be read has a code like every other error ----

TEST_F(HostileClient, UnreadableBodyIsA400WithACode) {
    http_connection conn(gw->port);
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.send(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vk-test-1\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n"));
    auto r = conn.read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->body, R"({"error":{"message":"cannot read request body: bad chunk",)"
                       R"("type":"invalid_request_error","code":"bad_request"}})");
    EXPECT_TRUE(conn.wait_closed(3s));
    EXPECT_EQ(recorded(), "[]");
}

// ---- item 3: dot segments (RFC 3986 §5.2.4) ----

class DotSegments : public HostileClient, public ::testing::WithParamInterface<const char*> {};

TEST_P(DotSegments, PathClimbingAboveItsRootIsRefused) {
    auto r = http_request(gw->port, "GET", GetParam(), "", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << GetParam() << ": " << r->body;
    EXPECT_NE(r->body.find(R"("code":"invalid_path")"), std::string::npos) << r->body;
    EXPECT_EQ(recorded(), "[]") << GetParam();
}

INSTANTIATE_TEST_SUITE_P(HostileClient, DotSegments,
                         ::testing::Values("/v1/../__mock/requests", "/v1/%2e%2e/__mock/requests",
                                           "/v1/%2E%2e/__mock/requests", "/v1/.%2E/__mock/requests",
                                           "/v1/..%2f__mock/requests", "/v1/..%2F__mock/requests",
                                           "/v1/models/..%2f..%2f__mock/requests",
                                           "/v1/models/x/../../../__mock/requests",
                                           "/v1/./../__mock/requests", "/v1/..", "/v1/models/../..",
                                           "/v1/..%5c__mock/requests", "/models/../../x",
                                           "/models/../v1/models/x", "/files/../v1/files",
                                           "/chat/../v1/chat/completions",
                                           "/v1/../v1/models/gpt-4o-mini?x=1"));

TEST_F(HostileClient, DotSegmentsInsideTheRootAreResolvedBeforeRouting) {
    auto r = http_request(gw->port, "POST", "/v1/chat/./x/../completions?q=1", chat, auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    auto m = http_request(gw->port, "GET", "/v1/models/x/%2e%2E/gpt-4o-mini", "", auth);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200) << m->body;
    const auto rec = recorded();
    EXPECT_NE(rec.find(R"("target":"/v1/chat/completions?q=1")"), std::string::npos) << rec;
    EXPECT_NE(rec.find(R"("target":"/v1/models/gpt-4o-mini")"), std::string::npos) << rec;
    EXPECT_EQ(rec.find(".."), std::string::npos) << rec;
}

}  // namespace
}  // namespace ditto::test
