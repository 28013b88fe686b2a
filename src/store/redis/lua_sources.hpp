#pragma once

// The layout v2 scripts' sources (src/store/redis/lua/*.lua), compiled in by src/CMakeLists.txt.

#include <string_view>

namespace ditto::store::redis::lua {

extern const std::string_view admit;
extern const std::string_view settle;
extern const std::string_view reap;
extern const std::string_view migrate;
extern const std::string_view dedup_begin;
extern const std::string_view dedup_end;

}  // namespace ditto::store::redis::lua
