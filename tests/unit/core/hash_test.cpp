#include "ditto/core/hash.hpp"

#include <gtest/gtest.h>

namespace ditto::core {
namespace {

TEST(Fnv1a64, MatchesReferenceVectors) {
    EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
    EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
    EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
    static_assert(fnv1a64("") == 0xcbf29ce484222325ULL, "usable at compile time");
}

TEST(Sha256, LowercaseHex) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, HasherMatchesOneShotAndOverlapsWithIt) {
    sha256_hasher h;
    h.update("a");
    // A one-shot digest in the middle must not disturb the hasher's state.
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h.update("b").update("c");
    EXPECT_EQ(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hasher empty;
    EXPECT_EQ(empty.hex(), sha256_hex(""));
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secret2"));
    EXPECT_FALSE(constant_time_equal("secret2", "secret"));
    EXPECT_FALSE(constant_time_equal("", "x"));
    // A prefix padded with NULs must not compare equal to the longer string.
    EXPECT_FALSE(constant_time_equal(std::string_view("ab\0", 3), "ab"));
}

}  // namespace
}  // namespace ditto::core
