// The config version hashes of docs/admin-api.md, "Config versions", computed here from their
// definition: the hash is fed key by key, and must equal the hash of the whole document written
// out.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ditto/admin/control_plane.hpp"
#include "ditto/config/serialize.hpp"
#include "ditto/core/hash.hpp"

namespace ditto::admin {
namespace {

using key = config::virtual_key_config;

TEST(VersionHash, KeysHashIsTheHashOfTheWholeDocument) {
    std::vector<key> keys = {{.id = "a", .token = "vk-a"}, {.id = "b", .token = "vk-b"}};
    keys[1].tenant_id = "t";
    const std::string doc = "ditto-gateway-config-version-v1|[" +
                            config::key_to_json(keys[0], config::token_form::raw) + "," +
                            config::key_to_json(keys[1], config::token_form::raw) + "]";
    EXPECT_EQ(keys_sha256(keys), core::sha256_hex(doc));
    EXPECT_EQ(keys_sha256({}), core::sha256_hex("ditto-gateway-config-version-v1|[]"));
    // The token is part of the document: rotating it is a new version.
    auto rotated = keys;
    rotated[0].token = "vk-a2";
    EXPECT_NE(keys_sha256(rotated), keys_sha256(keys));
}

TEST(VersionHash, KeysSortByIdBytewise) {
    // Ids that tie on the first 16 bytes, prefixes of each other, a NUL and bytes past 0x7f.
    const std::vector<std::string> ids = {"key-1",
                                          "key-10",
                                          "abcdefghijklmnopB",
                                          "abcdefghijklmnopA",
                                          "abcdefghijklmnop",
                                          std::string("key-1\0", 6),
                                          "\xc3\xa9t\xc3\xa9",
                                          "Key-2",
                                          "",
                                          "key-09"};
    std::vector<key> keys;
    for (const auto& id : ids)
        keys.push_back({.id = id, .token = "t-" + id});
    sort_by_id(keys);
    auto expected = ids;
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(keys.size(), expected.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(keys[i].id, expected[i]) << i;
        EXPECT_EQ(keys[i].token, "t-" + expected[i]) << i;  // whole keys moved, not just ids
    }
}

}  // namespace
}  // namespace ditto::admin
