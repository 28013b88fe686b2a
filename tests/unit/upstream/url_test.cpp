#include "ditto/upstream/url.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

namespace ditto::upstream {
namespace {

base_url parse_ok(std::string_view text) {
    auto u = parse_base_url(text);
    EXPECT_TRUE(u.has_value()) << text;
    return u.value_or(base_url{});
}

base_url with_path(std::string path) {
    base_url u;
    u.host = "h";
    u.port = 80;
    u.host_header = "h";
    u.path = std::move(path);
    return u;
}

// ---- parse_base_url --------------------------------------------------------------------

TEST(ParseBaseUrl, HttpDefaultPort) {
    const auto u = parse_ok("http://api.example.com");
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.host, "api.example.com");
    EXPECT_EQ(u.port, 80);
    EXPECT_EQ(u.path, "");
    EXPECT_EQ(u.host_header, "api.example.com");
}

TEST(ParseBaseUrl, HttpsDefaultPortAndPath) {
    const auto u = parse_ok("https://api.openai.com/v1");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "api.openai.com");
    EXPECT_EQ(u.port, 443);
    EXPECT_EQ(u.path, "/v1");
    EXPECT_EQ(u.host_header, "api.openai.com");
}

TEST(ParseBaseUrl, SchemeIsCaseInsensitiveAndInputTrimmed) {
    const auto u = parse_ok("  HTTPS://Host.Example/x  ");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "Host.Example");
    EXPECT_EQ(u.port, 443);
    EXPECT_EQ(u.path, "/x");
    EXPECT_FALSE(parse_ok("Http://h").tls);
}

TEST(ParseBaseUrl, ExplicitPort) {
    const auto u = parse_ok("http://127.0.0.1:8080/openai");
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, 8080);
    EXPECT_EQ(u.path, "/openai");
    EXPECT_EQ(u.host_header, "127.0.0.1:8080");

    const auto s = parse_ok("https://h:1");
    EXPECT_EQ(s.port, 1);
    EXPECT_EQ(s.host_header, "h:1");
    EXPECT_EQ(parse_ok("https://h:65535").port, 65535);
}

TEST(ParseBaseUrl, HostHeaderOmitsOnlyTheSchemesDefaultPort) {
    EXPECT_EQ(parse_ok("http://h:80").host_header, "h");
    EXPECT_EQ(parse_ok("http://h:80").port, 80);
    EXPECT_EQ(parse_ok("https://h:443").host_header, "h");
    EXPECT_EQ(parse_ok("https://h:80").host_header, "h:80");
    EXPECT_EQ(parse_ok("http://h:443").host_header, "h:443");
}

TEST(ParseBaseUrl, Ipv6) {
    const auto u = parse_ok("https://[::1]:8443/v1/");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 8443);
    EXPECT_EQ(u.path, "/v1");
    EXPECT_EQ(u.host_header, "[::1]:8443");

    const auto d = parse_ok("http://[2001:db8::2]");
    EXPECT_EQ(d.host, "2001:db8::2");
    EXPECT_EQ(d.port, 80);
    EXPECT_EQ(d.host_header, "[2001:db8::2]");
    EXPECT_EQ(d.path, "");

    EXPECT_EQ(parse_ok("https://[::1]:443").host_header, "[::1]");
}

TEST(ParseBaseUrl, TrailingSlashesTrimmed) {
    EXPECT_EQ(parse_ok("http://h/").path, "");
    EXPECT_EQ(parse_ok("http://h///").path, "");
    EXPECT_EQ(parse_ok("http://h/v1/").path, "/v1");
    EXPECT_EQ(parse_ok("http://h/a/b//").path, "/a/b");
    EXPECT_EQ(parse_ok("http://h:81/").port, 81);
    EXPECT_EQ(parse_ok("http://h:81/").path, "");
}

TEST(ParseBaseUrl, RejectsUserinfo) {
    EXPECT_FALSE(parse_base_url("http://user:pass@h"));
    EXPECT_FALSE(parse_base_url("http://user@h:8080/v1"));
    EXPECT_FALSE(parse_base_url("https://@h"));
}

TEST(ParseBaseUrl, RejectsQueryAndFragment) {
    EXPECT_FALSE(parse_base_url("http://h/v1?x=1"));
    EXPECT_FALSE(parse_base_url("http://h/v1#frag"));
    EXPECT_FALSE(parse_base_url("http://h/?"));
    // Without a path the query or fragment follows the authority directly.
    EXPECT_FALSE(parse_base_url("http://h?x=1"));
    EXPECT_FALSE(parse_base_url("http://h#frag"));
    EXPECT_FALSE(parse_base_url("http://h:8080?x=1"));
    EXPECT_FALSE(parse_base_url("http://[::1]?x"));
}

TEST(ParseBaseUrl, RejectsBadPorts) {
    for (std::string_view t :
         {"http://h:0", "http://h:65536", "http://h:99999999999", "http://h:-1", "http://h:+80",
          "http://h:80a", "http://h:a", "http://h: 80", "http://[::1]:0", "http://[::1]:x"}) {
        EXPECT_FALSE(parse_base_url(t)) << t;
    }
}

TEST(ParseBaseUrl, RejectsMissingOrUnknownScheme) {
    for (std::string_view t : {"", "h", "api.example.com/v1", "localhost:8080", "//h/v1", "ftp://h",
                               "ws://h", "http:/h", "http:h", "https//h"}) {
        EXPECT_FALSE(parse_base_url(t)) << t;
    }
}

TEST(ParseBaseUrl, RejectsMissingHost) {
    for (std::string_view t :
         {"http://", "https://", "http:///v1", "http://:8080", "http://[]", "http://[]:80",
          "http://[::1", "http://[::1]x", "http://[::1]8080"}) {
        EXPECT_FALSE(parse_base_url(t)) << t;
    }
}

// ---- join_target -----------------------------------------------------------------------

TEST(JoinTarget, DropsDuplicateV1) {
    EXPECT_EQ(join_target(with_path("/v1"), "/v1/chat/completions", "", ""),
              "/v1/chat/completions");
    EXPECT_EQ(join_target(with_path("/openai/v1"), "/v1/chat/completions", "", ""),
              "/openai/v1/chat/completions");
    EXPECT_EQ(join_target(with_path("/v1"), "/v1", "", ""), "/v1");
    // Through the parser, as a backend does it.
    EXPECT_EQ(join_target(parse_ok("https://api.openai.com/v1/"), "/v1/models", "", ""),
              "/v1/models");
}

TEST(JoinTarget, KeepsV1WhenNotADuplicate) {
    // The base does not end in /v1.
    EXPECT_EQ(join_target(with_path(""), "/v1/chat/completions", "", ""), "/v1/chat/completions");
    EXPECT_EQ(join_target(with_path("/openai"), "/v1/x", "", ""), "/openai/v1/x");
    EXPECT_EQ(join_target(with_path("/v10"), "/v1/x", "", ""), "/v10/v1/x");
    EXPECT_EQ(join_target(with_path("/av1"), "/v1/x", "", ""), "/av1/v1/x");
    EXPECT_EQ(join_target(with_path("/v1/openai"), "/v1/x", "", ""), "/v1/openai/v1/x");
    // The path does not start with /v1/ and is not /v1.
    EXPECT_EQ(join_target(with_path("/v1"), "/v1beta/models", "", ""), "/v1/v1beta/models");
    EXPECT_EQ(join_target(with_path("/v1"), "/v2/x", "", ""), "/v1/v2/x");
    EXPECT_EQ(join_target(with_path("/v1"), "/chat", "", ""), "/v1/chat");
}

TEST(JoinTarget, EmptyBaseAndPathGiveRoot) {
    EXPECT_EQ(join_target(with_path(""), "/", "", ""), "/");
    EXPECT_EQ(join_target(with_path(""), "", "", ""), "/");
    EXPECT_EQ(join_target(with_path(""), "", "a=1", ""), "/?a=1");
}

TEST(JoinTarget, Queries) {
    const auto b = with_path("/v1");
    EXPECT_EQ(join_target(b, "/v1/models", "", ""), "/v1/models");
    EXPECT_EQ(join_target(b, "/v1/models", "limit=5", ""), "/v1/models?limit=5");
    EXPECT_EQ(join_target(b, "/v1/models", "", "api-version=2024"), "/v1/models?api-version=2024");
    EXPECT_EQ(join_target(b, "/v1/models", "limit=5&x=y", "api-version=2024&k=v%20w"),
              "/v1/models?limit=5&x=y&api-version=2024&k=v%20w");
    EXPECT_EQ(join_target(with_path("/openai"), "/v1/x", "a=1", "b=2"), "/openai/v1/x?a=1&b=2");
}

// ---- url_encode / url_decode -----------------------------------------------------------

TEST(UrlEncode, KeepsUnreservedAndEscapesTheRest) {
    EXPECT_EQ(url_encode(""), "");
    EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(url_encode("a b"), "a%20b");
    EXPECT_EQ(url_encode("a+b&c=d/e?f#g%"), "a%2Bb%26c%3Dd%2Fe%3Ff%23g%25");
    EXPECT_EQ(url_encode("caf\xc3\xa9"), "caf%C3%A9");
    EXPECT_EQ(url_encode(std::string_view("\0\x7f\xff", 3)), "%00%7F%FF");
    EXPECT_EQ(url_encode("2024-06-01"), "2024-06-01");
}

TEST(UrlDecode, DecodesValidEscapes) {
    EXPECT_EQ(url_decode(""), "");
    EXPECT_EQ(url_decode("abc"), "abc");
    EXPECT_EQ(url_decode("a%20b"), "a b");
    EXPECT_EQ(url_decode("%41"), "A");
    EXPECT_EQ(url_decode("x%41"), "xA");
    EXPECT_EQ(url_decode("%2f%2F"), "//");
    EXPECT_EQ(url_decode("gpt%2D4o%3Amini"), "gpt-4o:mini");
    EXPECT_EQ(url_decode("caf%C3%A9"), "caf\xc3\xa9");
    EXPECT_EQ(url_decode("%00"), std::string("\0", 1));
    EXPECT_EQ(url_decode("%2541"), "%41");  // decoded once only
}

TEST(UrlDecode, PlusIsLeftAlone) {
    EXPECT_EQ(url_decode("a+b%2Bc"), "a+b+c");
}

TEST(UrlDecode, InvalidEscapesKept) {
    EXPECT_EQ(url_decode("%"), "%");
    EXPECT_EQ(url_decode("%4"), "%4");
    EXPECT_EQ(url_decode("a%4"), "a%4");
    EXPECT_EQ(url_decode("%G1"), "%G1");
    EXPECT_EQ(url_decode("%1G"), "%1G");
    EXPECT_EQ(url_decode("%%41"), "%A");
    EXPECT_EQ(url_decode("100%"), "100%");
    EXPECT_EQ(url_decode("%zz%41"), "%zzA");
}

TEST(UrlEncodeDecode, RoundTrip) {
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    EXPECT_EQ(url_decode(url_encode(all)), all);
    EXPECT_EQ(url_decode(url_encode("model/with spaces+plus%")), "model/with spaces+plus%");
}

}  // namespace
}  // namespace ditto::upstream

namespace ditto::upstream {
namespace {

TEST(ParseBaseUrlV6, UnbracketedIpv6IsRefused) {
    EXPECT_FALSE(parse_base_url("http://::1:80"));
    EXPECT_TRUE(parse_base_url("http://[::1]:80"));
}

// ---- resolve_dot_segments (issue 19 item 3) ----------------------------------------

TEST(ResolveDotSegments, PathsWithoutDotSegmentsAreUnchanged) {
    for (const char* p : {"/v1/chat/completions", "/v1/models/gpt-4.1", "/v1/files/a%2Fb", "/v1/",
                          "/", "/v1//x", "/v1/models/gpt-4%2e1", "/v1/...", "/v1/.x"}) {
        EXPECT_EQ(resolve_dot_segments(p), std::optional<std::string>(p)) << p;
    }
}

TEST(ResolveDotSegments, ResolvesInsideTheRoot) {
    const std::pair<const char*, const char*> cases[] = {
        {"/v1/chat/./x/../completions", "/v1/chat/completions"},
        {"/v1/models/x/%2e%2E/gpt-4o", "/v1/models/gpt-4o"},
        {"/v1/models/.", "/v1/models/"},
        {"/v1/models/x/..", "/v1/models/"},
        {"/v1//..", "/v1/"},
        {"/./v1/x", "/v1/x"},
        // Only the escaped slash's reading has a dot segment, and it stays inside /v1.
        {"/v1/files/a%2f..%2fb", "/v1/files/a%2f..%2fb"},
    };
    for (const auto& [in, out] : cases)
        EXPECT_EQ(resolve_dot_segments(in), std::optional<std::string>(out)) << in;
}

TEST(ResolveDotSegments, RefusesClimbingAboveTheFirstSegment) {
    for (const char* p : {"/v1/..", "/v1/../__mock/requests", "/v1/%2e%2e/x", "/v1/%2E%2e/x",
                          "/v1/.%2e/x", "/v1/..%2fx", "/v1/..%2Fx", "/v1/..%5cx", "/v1/..\\x",
                          "/v1/models/..%2f..%2fx", "/v1/models/../..", "/v1/a/b/../../../x",
                          "/models/../v1/models/x", "/..", "/./..", "/v1/../v1/chat/completions"}) {
        EXPECT_EQ(resolve_dot_segments(p), std::nullopt) << p;
    }
}

}  // namespace
}  // namespace ditto::upstream
