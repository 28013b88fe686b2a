#include "ditto/cache/entry.hpp"

#include <gtest/gtest.h>

namespace ditto::cache {
namespace {

entry sample() {
    entry e;
    e.status = 201;
    e.backend = "primary";
    e.headers = {{"content-type", "application/json"}, {"openai-model", "gpt"}};
    e.body = std::string("{\"a\":1}\0\xff", 9);  // binary-safe
    e.meta = {"vk:k1", "POST", "/v1/chat/completions", "gpt-4o", "abc"};
    return e;
}

TEST(CacheEntry, RoundTripsEveryFieldBinarySafe) {
    const auto e = sample();
    const auto bytes = encode(e);
    auto d = decode(bytes);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 201u);
    EXPECT_EQ(d->backend, "primary");
    EXPECT_EQ(d->headers, e.headers);
    EXPECT_EQ(d->body, e.body);
    EXPECT_EQ(d->meta.scope, "vk:k1");
    EXPECT_EQ(d->meta.method, "POST");
    EXPECT_EQ(d->meta.path, "/v1/chat/completions");
    EXPECT_EQ(d->meta.model, std::optional<std::string>("gpt-4o"));
    EXPECT_EQ(d->meta.route_partition, "abc");
    auto m = decode_metadata(bytes);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->scope, "vk:k1");
}

TEST(CacheEntry, NoModelStaysNoModel) {
    auto e = sample();
    e.meta.model.reset();
    auto d = decode(encode(e));
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->meta.model);
}

TEST(CacheEntry, RejectsTruncatedForeignAndTrailingBytes) {
    const auto bytes = encode(sample());
    for (std::size_t cut = 0; cut < bytes.size(); ++cut)
        EXPECT_FALSE(decode(std::string_view(bytes).substr(0, cut))) << cut;
    EXPECT_FALSE(decode(bytes + "x"));
    EXPECT_FALSE(decode(R"({"status":200,"body":[1,2]})"));  // the original gateway's layout
    EXPECT_FALSE(decode_metadata("dce2" + bytes.substr(4)));
    // A header count far beyond the input is refused before anything is allocated.
    auto e = sample();
    e.headers.clear();
    auto b = encode(e);
    const auto at = b.size() - 4 - e.body.size() - 4;  // the header count
    b[at + 3] = '\x7f';
    EXPECT_FALSE(decode(b));
}

}  // namespace
}  // namespace ditto::cache
