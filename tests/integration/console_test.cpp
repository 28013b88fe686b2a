// docs/console.md: the console's files served from the binary at /ui/, only where the Admin API
// is mounted, each byte for byte the file in src/console/ (so the binary holds the current
// console), with the security headers, gzip, ETag revalidation and the 301/404/405 answers.
// The console itself is driven in Chromium by tests/browser (scripts/console-check.sh).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/gateway_fixture.hpp"

namespace ditto::test {
namespace {

namespace fs = std::filesystem;

const std::string csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void expect_secured(const http_response& r, const std::string& what) {
    EXPECT_EQ(r.header("content-security-policy"), csp) << what;
    EXPECT_EQ(r.header("x-frame-options"), "DENY") << what;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff") << what;
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer") << what;
    EXPECT_EQ(r.header("cache-control"), "no-cache") << what;
}

class Console : public ::testing::Test {
  protected:
    void SetUp() override {
        mock.start();
        gw.start(basic_config(mock.port), {"--admin-token", "adm-w"});
    }
    running_mock mock;
    running_gateway gw;
};

TEST(ConsoleMounting, NoAdminTokenNoConsole) {
    running_mock mock;
    mock.start();
    running_gateway gw;
    gw.start(basic_config(mock.port));
    for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
        auto r = http_request(gw.port, "GET", path);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << path;
        EXPECT_TRUE(r->body.empty());
    }
}

TEST_F(Console, EveryFileIsServedAsItIsInTheTree) {
    const fs::path root = fs::path(DITTO_SOURCE_DIR) / "src" / "console";
    int served = 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        const auto rel = fs::relative(e.path(), root).generic_string();
        if (!e.is_regular_file() || rel.starts_with("node_modules/") || rel == "package.json" ||
            rel == "package-lock.json" || rel == "README.md")
            continue;
        auto r = http_request(gw.port, "GET", "/ui/" + rel);
        ASSERT_TRUE(r) << rel;
        ASSERT_EQ(r->status, 200) << rel;
        EXPECT_EQ(r->body, read_file(e.path())) << rel << ": rebuild to embed the current file";
        expect_secured(*r, rel);
        EXPECT_EQ(r->header("content-encoding"), "") << rel;  // not asked for
        if (rel.ends_with(".js")) {
            EXPECT_EQ(r->header("content-type"), "text/javascript; charset=utf-8") << rel;
        }
        if (rel.ends_with(".css")) {
            EXPECT_EQ(r->header("content-type"), "text/css; charset=utf-8") << rel;
        }
        ++served;
    }
    EXPECT_GT(served, 5);
    // The npm manifest, the lock file and the README stay out of the binary.
    for (const char* left_out : {"/ui/package.json", "/ui/package-lock.json", "/ui/README.md"})
        EXPECT_EQ(http_request(gw.port, "GET", left_out)->status, 404) << left_out;
}

TEST_F(Console, ThePageHasNoInlineScriptOrStyle) {
    auto r = http_request(gw.port, "GET", "/ui/");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
    expect_secured(*r, "/ui/");
    EXPECT_EQ(r->body, read_file(fs::path(DITTO_SOURCE_DIR) / "src/console/index.html"));
    // Every script is a file of ours (the CSP would block the rest; this keeps the page honest).
    for (auto at = r->body.find("<script"); at != std::string::npos;
         at = r->body.find("<script", at + 1)) {
        const auto tag = r->body.substr(at, r->body.find('>', at) - at);
        EXPECT_NE(tag.find("src=\""), std::string::npos) << tag;
        EXPECT_EQ(tag.find("src=\"http"), std::string::npos) << tag;
    }
    EXPECT_EQ(r->body.find("<style"), std::string::npos);
    EXPECT_EQ(r->body.find(" style=\""), std::string::npos);
}

TEST_F(Console, GzipEtagsRedirectsAndMethods) {
    auto plain = http_request(gw.port, "GET", "/ui/");
    auto gz = http_request(gw.port, "GET", "/ui/", "", {{"Accept-Encoding", "br, gzip;q=0.8"}});
    ASSERT_EQ(gz->status, 200);
    EXPECT_EQ(gz->header("content-encoding"), "gzip");
    EXPECT_EQ(gz->header("vary"), "Accept-Encoding");
    ASSERT_GE(gz->body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(gz->body[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz->body[1]), 0x8b);
    EXPECT_LT(gz->body.size(), plain->body.size());
    auto refused = http_request(gw.port, "GET", "/ui/", "", {{"Accept-Encoding", "gzip;q=0"}});
    EXPECT_EQ(refused->header("content-encoding"), "");

    const auto etag = plain->header("etag");
    ASSERT_FALSE(etag.empty());
    auto same = http_request(gw.port, "GET", "/ui/", "", {{"If-None-Match", "\"x\", " + etag}});
    EXPECT_EQ(same->status, 304);
    EXPECT_TRUE(same->body.empty());
    // No Content-Length but the 200's (RFC 9110 section 8.6): none; the 200's Vary.
    EXPECT_FALSE(same->has_header("content-length"));
    EXPECT_EQ(same->header("vary"), "Accept-Encoding");
    expect_secured(*same, "304");
    EXPECT_EQ(http_request(gw.port, "GET", "/ui/", "", {{"If-None-Match", "\"other\""}})->status,
              200);

    auto moved = http_request(gw.port, "GET", "/ui");
    EXPECT_EQ(moved->status, 301);
    EXPECT_EQ(moved->header("location"), "/ui/");
    expect_secured(*moved, "301");
    auto missing = http_request(gw.port, "GET", "/ui/nothing.js");
    EXPECT_EQ(missing->status, 404);
    expect_secured(*missing, "404");
    auto post = http_request(gw.port, "POST", "/ui/", "{}", {{"Content-Type", "application/json"}});
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->header("allow"), "GET, HEAD");
    auto head = http_request(gw.port, "HEAD", "/ui/");
    EXPECT_EQ(head->status, 200);
    EXPECT_TRUE(head->body.empty());
    // The console adds no authority: the Admin API still wants its token.
    EXPECT_EQ(http_request(gw.port, "GET", "/admin/keys")->status, 401);
}

}  // namespace
}  // namespace ditto::test
