#include "ditto/store/redis/redis_reply.hpp"

#include <gtest/gtest.h>

#include <string_view>

#include "redis_client.hpp"

namespace ditto::store::redis {
namespace {

resp_reader::pull read_one(std::string_view stream, redis_reply& out) {
    resp_reader reader;
    EXPECT_TRUE(reader.feed(stream.data(), stream.size()));
    return reader.next(out);
}

TEST(RespReader, RepliesAreConvertedToOwnedValues) {
    redis_reply r;
    ASSERT_EQ(read_one("*4\r\n:-7\r\n$2\r\n12\r\n$-1\r\n+OK\r\n", r), resp_reader::pull::reply);
    ASSERT_TRUE(r.is_array());
    ASSERT_EQ(r.elements.size(), 4u);
    EXPECT_EQ(element_int(r, 0), -7);
    EXPECT_EQ(element_u64(r, 0), 0u);  // a negative count reads as none
    EXPECT_EQ(element_int(r, 1), 12);
    EXPECT_EQ(element_u64(r, 1), 12u);
    EXPECT_TRUE(r.elements[2].is_nil());
    EXPECT_TRUE(r.elements[3].is_ok());
    EXPECT_EQ(element_int(r, 9), 0);
}

TEST(RespReader, PartialInputWaitsForMore) {
    resp_reader reader;
    redis_reply r;
    const std::string_view head = "$5\r\nhel";
    const std::string_view tail = "lo\r\n";
    ASSERT_TRUE(reader.feed(head.data(), head.size()));
    EXPECT_EQ(reader.next(r), resp_reader::pull::need_more);
    ASSERT_TRUE(reader.feed(tail.data(), tail.size()));
    ASSERT_EQ(reader.next(r), resp_reader::pull::reply);
    EXPECT_EQ(r.as_string(), "hello");
}

// Regression (tests/fuzz/corpus/fuzz_redis_reply/crash-huge-array-count): hiredis allocated
// the element table of `*809551616` (6.5 GB) on reading the count.
TEST(RespReader, HugeArrayCountIsAProtocolError) {
    redis_reply r;
    EXPECT_EQ(read_one("*809551616\r\n", r), resp_reader::pull::bad);
    EXPECT_EQ(read_one("*2000000000\r\n:1\r\n", r), resp_reader::pull::bad);
    // Large but plausible counts still work.
    EXPECT_EQ(read_one("*100000\r\n", r), resp_reader::pull::need_more);
}

TEST(RespReader, GarbageIsAProtocolError) {
    redis_reply r;
    EXPECT_EQ(read_one("?what\r\n", r), resp_reader::pull::bad);
}

// An error reply that says "not now" is an outage (retried, like a lost connection); any
// other is a refusal. REGRESSION: `LOADING` from a Redis reading its AOF back after a restart
// counted as a refusal, so an audit append it answered was not retried and the record was
// lost (RedisFaults.KilledAndRestartedRedisUnderLoad, under ctest -j2).
TEST(RespReader, TransientErrorRepliesAreOutagesNotRefusals) {
    for (const char* text :
         {"LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script.",
          "READONLY You can't write against a read only replica.",
          "MASTERDOWN Link with MASTER is down", "TRYAGAIN Multiple keys",
          "CLUSTERDOWN The cluster is down"}) {
        redis_result r;
        ASSERT_EQ(read_one(std::string("-") + text + "\r\n", r.reply), resp_reader::pull::reply);
        EXPECT_EQ(failure_of(r), make_error_code(redis_errc::not_ready)) << text;
    }
    redis_result refused;
    ASSERT_EQ(read_one("-ERR unknown command\r\n", refused.reply), resp_reader::pull::reply);
    EXPECT_EQ(failure_of(refused), make_error_code(redis_errc::protocol_error));
    redis_result fine;
    ASSERT_EQ(read_one("+OK\r\n", fine.reply), resp_reader::pull::reply);
    EXPECT_FALSE(failure_of(fine));
}

}  // namespace
}  // namespace ditto::store::redis
