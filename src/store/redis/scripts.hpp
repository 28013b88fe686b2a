#pragma once

// The Lua scripts of the Redis store (docs/redis.md). Each admission is one script call:
// Redis runs a script atomically, so all scopes are checked and charged together, and the
// time comes from Redis (`TIME`), never from a replica's clock. Keys are built inside the
// scripts from the prefix, so the store needs a single Redis (not Cluster).

#include <string>
#include <string_view>

namespace ditto::store::redis {

struct lua_script {
    std::string_view source;
    std::string sha1;  ///< for EVALSHA; computed once
};

/// ARGV: prefix, tokens, n, then n × (scope id, rpm, tpm) with -1 for "no limit".
/// Returns {admitted 0|1, blocked index, reason, retry_after, minute}.
const lua_script& rate_admit_script();
/// ARGV: prefix, minute, request delta (0 or 1 to take back), tokens to take back (may be
/// negative: a settlement above the estimate), scope ids…  Only within `minute`.
const lua_script& rate_adjust_script();
/// ARGV: prefix, reservation id, key id, n, then n × (metric t|u, scope, limit or -1,
/// amount). Returns {admitted, duplicate, blocked line, limit, attempted}.
const lua_script& budget_reserve_script();
/// ARGV: prefix, reservation id, spend 0|1, actual tokens or -1, actual usd or -1.
/// Returns 1 when the reservation existed.
const lua_script& budget_settle_script();
/// ARGV: prefix, cutoff ms, limit, dry 0|1. Returns {scanned, reaped, tokens, usd}.
const lua_script& budget_reap_script();
/// KEYS: P:control_version, P:virtual_keys, P:router_config. ARGV: expected version or ""
/// (none), has router 0|1, router JSON, then (id, key JSON) pairs. Replaces keys and router and
/// returns the new version, or, when the stored version is not the expected one, -1 - the stored
/// version (and changes nothing).
const lua_script& control_save_script();
/// ARGV: prefix, kind, payload, ts_ms, retention seconds (0: keep). Returns the id.
const lua_script& audit_append_script();

/// Layout v2 (docs/redis.md): the sources are src/store/redis/lua/*.lua, each documented at its
/// top, compiled into the binary (src/CMakeLists.txt).
const lua_script& v2_admit_script();
const lua_script& v2_settle_script();
const lua_script& v2_reap_script();
/// Layout 1 -> 2, once (docs/redis.md, "Upgrading from layout 1").
const lua_script& v2_migrate_script();
/// x-request-id records (docs/proxy.md, "Retries with x-request-id"), on either layout.
const lua_script& dedup_begin_script();
const lua_script& dedup_end_script();

}  // namespace ditto::store::redis
