#include "ditto/http/request.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/http/framing.hpp"
#include "ditto/http/message_parser.hpp"
#include "ditto/http/response_message.hpp"

namespace ditto::http {
namespace {

namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;

TEST(HeaderList, KnownFieldsAreFoundByEnumWhateverTheirSpelling) {
    request r;
    r.insert("AUTHORIZATION", "Bearer a");
    r.insert("x-tenant", "t1");
    EXPECT_EQ(r[bhttp::field::authorization], "Bearer a");
    EXPECT_EQ(r["authorization"], "Bearer a");
    EXPECT_EQ(r.find(bhttp::field::authorization)->name_string(), "AUTHORIZATION");
    EXPECT_EQ(r["X-Tenant"], "t1");
    EXPECT_EQ(r.find("x-other"), r.end());
    EXPECT_EQ(r[bhttp::field::host], "");
}

// A name's field is remembered per thread (request.cpp, field_of), in sets chosen by length and
// last 8 bytes. Whatever the table holds, a lookup by text gets Beast's own answer: names that
// share a set (a known field beside unknown look-alikes, three to a set of two), more names
// than the table has places, the same buffer reused for another name of the same length.
TEST(HeaderList, NamesLookedUpByTextAlwaysGetTheirOwnField) {
    std::vector<std::string> names = {"content-type",  "xontent-type",  "yontent-type",
                                      "authorization", "xuthorization", "Content-Type"};
    for (int i = 0; i < 300; ++i)
        names.push_back("x-name-" + std::to_string(i));
    for (int round = 0; round < 3; ++round) {
        for (const auto& n : names) {
            request r;
            r.set(n, "v");
            EXPECT_EQ(r.begin()->name(), bhttp::string_to_field(n)) << n;
            EXPECT_EQ(r.find(n), r.begin()) << n;
        }
    }
    std::string buf = "content-type";
    request r;
    r.set(buf, "a");
    buf.assign("x-tenant-abc");
    r.set(buf, "b");
    EXPECT_EQ(r[bhttp::field::content_type], "a");
    EXPECT_EQ(r.count(bhttp::field::content_type), 1u);
    EXPECT_EQ(r["x-tenant-abc"], "b");
}

TEST(HeaderList, DuplicatesKeepTheirOrderAndSetReplacesThemAll) {
    request r;
    r.insert("x-a", "1");
    r.insert(bhttp::field::accept, "text/plain");
    r.insert("X-A", "2");
    EXPECT_EQ(r.count("x-a"), 2u);
    std::string seen;
    for (const auto& f : r)
        seen += std::string(f.name_string()) + "=" + std::string(f.value()) + ";";
    EXPECT_EQ(seen, "x-a=1;Accept=text/plain;X-A=2;");
    r.set("x-a", "3");
    EXPECT_EQ(r.count("x-a"), 1u);
    EXPECT_EQ(r["x-a"], "3");
    EXPECT_EQ(r.erase("x-a"), 1u);
    EXPECT_EQ(r.erase(bhttp::field::accept), 1u);
    EXPECT_TRUE(r.empty());
}

// Views stay right however much the byte store grows (it reallocates under them).
TEST(HeaderList, ValuesSurviveGrowthAndClearKeepsNothing) {
    request r{bhttp::verb::post, "/v1/chat/completions", 11};
    for (int i = 0; i < 200; ++i)
        r.insert("x-h" + std::to_string(i), std::string(40, static_cast<char>('a' + i % 26)));
    EXPECT_EQ(r.size(), 200u);
    EXPECT_EQ(r["x-h7"], std::string(40, 'h'));
    EXPECT_EQ(r.target(), "/v1/chat/completions");
    EXPECT_EQ(r.method_string(), "POST");
    r.clear();
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.method(), bhttp::verb::unknown);
    EXPECT_EQ(r.target(), "");
}

TEST(HeaderList, ACopyOwnsItsBytesAndAMoveTakesThem) {
    request r{bhttp::verb::post, "/v1/x", 11};
    r.insert("x-a", std::string(600, 'a'));  // past the first allocation
    request copy = r;
    r.set("x-a", "changed");
    EXPECT_EQ(copy["x-a"], std::string(600, 'a'));
    EXPECT_EQ(copy.target(), "/v1/x");
    request moved = std::move(copy);
    EXPECT_EQ(moved["x-a"].size(), 600u);
    EXPECT_EQ(moved.method_string(), "POST");
    copy = moved;  // assigning into a moved-from head
    EXPECT_EQ(copy["x-a"].size(), 600u);
    EXPECT_EQ(r["x-a"], "changed");
}

// A value taken from the same head stays right when adding it grows the byte store (ASan
// reports a use after free if the append reads the moved bytes).
TEST(HeaderList, AValueFromTheSameHeadSurvivesTheGrowthItCauses) {
    request r{bhttp::verb::get, "/", 11};
    r.insert("x-a", std::string(400, 'a'));
    r.insert("x-c", r["x-a"]);
    r.set(r.find("x-a")->name_string(), r["x-c"]);
    r.target(r["x-c"]);
    EXPECT_EQ(r["x-c"], std::string(400, 'a'));
    EXPECT_EQ(r["x-a"], std::string(400, 'a'));
    EXPECT_EQ(r.target(), std::string(400, 'a'));
}

TEST(Request, KeepAliveFollowsVersionAndConnectionTokens) {
    request r{bhttp::verb::get, "/", 11};
    EXPECT_TRUE(r.keep_alive());
    r.set(bhttp::field::connection, "foo, Close");
    EXPECT_FALSE(r.keep_alive());
    r.version(10);
    r.erase(bhttp::field::connection);
    EXPECT_FALSE(r.keep_alive());
    r.keep_alive(true);
    EXPECT_EQ(r[bhttp::field::connection], "keep-alive");
    EXPECT_TRUE(r.keep_alive());
    r.version(11);
    r.keep_alive(false);
    EXPECT_EQ(r[bhttp::field::connection], "close");
}

TEST(Request, ContentLengthIsReadOnlyWhenItIsOneNumber) {
    request r{bhttp::verb::post, "/", 11};
    EXPECT_FALSE(r.content_length());
    r.insert(bhttp::field::content_length, "12");
    EXPECT_EQ(r.content_length(), 12u);
    r.insert(bhttp::field::content_length, "12");
    EXPECT_FALSE(r.content_length());
    r.set(bhttp::field::content_length, "1x");
    EXPECT_FALSE(r.content_length());
    r.set(bhttp::field::transfer_encoding, "chunked");
    r.body() = "abc";
    r.prepare_payload();
    EXPECT_EQ(r[bhttp::field::content_length], "3");
    EXPECT_EQ(r.find(bhttp::field::transfer_encoding), r.end());
    request get{bhttp::verb::get, "/", 11};
    get.insert(bhttp::field::content_length, "0");
    get.prepare_payload();
    EXPECT_EQ(get.find(bhttp::field::content_length), get.end());
}

TEST(Request, AnExtensionMethodKeepsItsName) {
    request r;
    r.method_string("QUERY");
    EXPECT_EQ(r.method(), bhttp::verb::unknown);
    EXPECT_EQ(r.method_string(), "QUERY");
    EXPECT_THROW(r.method(bhttp::verb::unknown), std::invalid_argument);
}

// Feeds `in` to the parser the way the server does; the bytes consumed.
std::size_t put_all(request_parser& p, std::string_view in, error_code& ec) {
    std::size_t used = 0;
    while (!p.is_done() && used < in.size()) {
        ec = {};
        const auto n = p.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
        used += n;
        if (ec)
            break;
    }
    return used;
}

// A parser over `r` that has read the head off `wire`, as the server sets it up.
struct parsed_head {
    request r;
    request_parser p{r};
    std::size_t used = 0;
    error_code ec;
    explicit parsed_head(std::string_view wire) {
        p.body_limit(boost::none);
        fold_finder folds;
        used = put_head(p, wire, folds, ec);
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_TRUE(p.is_header_done());
    }
};

constexpr std::string_view json_post =
    "POST /v1/chat/completions?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 11\r\n\r\n{\"model\":1}";
constexpr std::string_view chunked_post =
    "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    "a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n";

TEST(RequestParser, HeadThenBodyIntoTheSinkUnderItsLimit) {
    const auto wire = json_post;
    parsed_head h(wire);
    auto& [r, p, head, ec] = h;
    EXPECT_EQ(r.method(), bhttp::verb::post);
    EXPECT_EQ(r.target(), "/v1/chat/completions?a=1");
    EXPECT_EQ(r[bhttp::field::content_type], "application/json");
    EXPECT_EQ(r.size(), 3u);
    EXPECT_TRUE(request_framing_ok(r));

    {
        parsed_head over(wire);
        std::string small;
        over.p.body_to(&small, 5);
        put_all(over.p, wire.substr(over.used), over.ec);
        EXPECT_EQ(over.ec, bhttp::error::body_limit);
    }
    std::string body;
    p.body_to(&body, 11);
    put_all(p, wire.substr(head), ec);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(body, "{\"model\":1}");
}

TEST(RequestParser, PiecesTakeWhatFitsAndTrailersAreDropped) {
    const auto wire = chunked_post;
    parsed_head h(wire);
    auto& [r, p, used, ec] = h;
    std::string got;
    int pieces = 0;
    while (!p.is_done() && used < wire.size()) {
        std::string piece;
        p.pieces_to(&piece, 4);
        ec = {};
        used += p.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
        ASSERT_TRUE(!ec || ec == bhttp::error::need_buffer) << ec.message();
        EXPECT_LE(piece.size(), 4u);
        pieces += !piece.empty();
        got += piece;
    }
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(got, "0123456789abc");
    EXPECT_GE(pieces, 4);
    EXPECT_EQ(r.find("x-trailer"), r.end());
}

TEST(RequestParser, HeadAloneStopsAtTheBody) {
    const std::string_view wire = "POST /u HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    parsed_head h(wire);
    auto& [r, p, used, ec] = h;
    EXPECT_EQ(wire.substr(used), "abc");  // the body stays for whoever asks for it
    ec = {};
    EXPECT_EQ(p.put(boost::asio::buffer(wire.data() + used, 3), ec), 0u);
    EXPECT_EQ(ec, bhttp::error::need_buffer);
}

TEST(RequestFraming, TransferEncodingOtherThanOneChunkedIsRefused) {
    request r{bhttp::verb::post, "/", 11};
    r.insert(bhttp::field::transfer_encoding, " Chunked ");
    EXPECT_TRUE(request_framing_ok(r));
    r.insert(bhttp::field::transfer_encoding, "chunked");
    EXPECT_FALSE(request_framing_ok(r));
    r.set(bhttp::field::transfer_encoding, "gzip, chunked");
    EXPECT_FALSE(request_framing_ok(r));
    r.set(bhttp::field::transfer_encoding, "chunked");
    r.insert(bhttp::field::content_length, "3");
    EXPECT_FALSE(request_framing_ok(r));
}

}  // namespace
}  // namespace ditto::http

namespace ditto::http {
namespace {

TEST(ResponseMessage, BodilessAnswersGetNoLengthOthersTheBodys) {
    response_message m{bhttp::status::ok, 11};
    m.body() = "hello";
    m.set(bhttp::field::transfer_encoding, "chunked");
    m.prepare_payload();
    EXPECT_EQ(m[bhttp::field::content_length], "5");
    EXPECT_EQ(m.find(bhttp::field::transfer_encoding), m.end());
    m.result(bhttp::status::not_modified);
    m.prepare_payload();
    EXPECT_FALSE(m.has_content_length());
    EXPECT_EQ(m.result_int(), 304u);
}

TEST(ResponseParser, StatusReasonFieldsAndBodyAreRead) {
    const std::string_view wire =
        "HTTP/1.1 201 Made It\r\nContent-Length: 2\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\nok";
    response_message m;
    response_parser p(m);
    p.body_limit(boost::none);
    std::string body;
    p.body_to(&body, 1024);
    error_code ec;
    p.eager(true);
    const auto used = p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(used, wire.size());
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(m.result_int(), 201u);
    EXPECT_EQ(m.reason(), "Made It");
    EXPECT_EQ(m["x-a"], "1");
    EXPECT_EQ(body, "ok");
    // Hop-by-hop fields are the upstream's, not the client's (upstream::strip_hop_by_hop).
    EXPECT_EQ(m.erase_if([](const header_list::value_type& f) {
        return f.name() == bhttp::field::connection;
    }),
              1u);
    EXPECT_EQ(m.size(), 2u);
}

}  // namespace
}  // namespace ditto::http
