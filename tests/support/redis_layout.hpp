#pragma once

// The Redis suites run once per key layout (tests/CMakeLists.txt; docs/redis.md, "Layout v2"):
// the raw reads a test makes with redis-cli, in the layout under test.

#include <cstdlib>
#include <string>
#include <vector>

namespace ditto::test {

/// The gateways run with key layout 2 (the default) unless DITTO_TEST_REDIS_LAYOUT=1.
inline bool redis_layout2() {
    const char* l = std::getenv("DITTO_TEST_REDIS_LAYOUT");
    return l == nullptr || std::string(l) != "1";
}

/// The command reading a ledger field of `scope`, named as layout 1 names it (`spent_tokens`,
/// `reserved_tokens`, `spent_usd_micros`, `reserved_usd_micros`).
inline std::vector<std::string> ledger_field(const std::string& prefix, const std::string& scope,
                                             const std::string& field) {
    const bool usd = field.ends_with("usd_micros");
    if (redis_layout2()) {
        std::string f = field.starts_with("spent") ? "s" : "r";
        f += usd ? "u" : "t";
        return {"HGET", prefix + ":scope:" + scope, f};
    }
    return {"HGET", prefix + (usd ? ":cost_ledger:" : ":budget_ledger:") + scope, field};
}

/// The command counting the audit records.
inline std::vector<std::string> audit_count(const std::string& prefix) {
    if (redis_layout2())
        return {"XLEN", prefix + ":audit"};
    return {"ZCARD", prefix + ":audit_by_ts"};
}

/// The command counting the distinct request ids the audit records name (one Lua call).
inline std::vector<std::string> audit_request_ids(const std::string& prefix) {
    if (redis_layout2()) {
        return {"EVAL", R"lua(
            local seen, n = {}, 0
            for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
                local f, p = e[2], ''
                for i = 1, #f, 2 do if f[i] == 'payload' then p = f[i + 1] end end
                local r = string.match(p, '"request_id":"([^"]*)"') or ''
                if not seen[r] then seen[r] = true; n = n + 1 end
            end
            return n)lua",
                "1", prefix + ":audit"};
    }
    return {"EVAL", R"lua(
            local seen, n = {}, 0
            for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
                local p = redis.call('HGET', ARGV[1] .. id, 'payload') or ''
                local r = string.match(p, '"request_id":"([^"]*)"') or ''
                if not seen[r] then seen[r] = true; n = n + 1 end
            end
            return n)lua",
            "1", prefix + ":audit_by_ts", prefix + ":audit:"};
}

/// The command counting the open reservations.
inline std::vector<std::string> open_reservations(const std::string& prefix) {
    if (redis_layout2()) {
        return {"EVAL", R"lua(
            local n = 0
            for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
                for _, v in ipairs(redis.call('HVALS', k)) do
                    if v ~= 'x' and v ~= 'r' then n = n + 1 end
                end
            end
            return n)lua",
                "0", prefix + ":res:*"};
    }
    return {"ZCARD", prefix + ":reservations_by_ts"};
}

/// The command listing the keys of `scope`'s rate counters (non-empty once it was charged).
inline std::vector<std::string> rate_counters(const std::string& prefix, const std::string& scope) {
    if (redis_layout2())
        return {"HGET", prefix + ":scope:" + scope, "rq"};
    return {"KEYS", prefix + ":rate_limit:req:" + scope + ":*"};
}

}  // namespace ditto::test
