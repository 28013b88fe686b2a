#include "scripts.hpp"

#include <openssl/evp.h>

#include "lua_sources.hpp"

namespace ditto::store::redis {
namespace {

std::string sha1_hex(std::string_view s) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size(), md, &len, EVP_sha1(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

lua_script make(std::string_view src) {
    return {src, sha1_hex(src)};
}

// Shared by every script: ledger key and fields of a metric (docs/redis.md, "Key layout").
#define DITTO_LUA_LEDGER                                                                    \
    "local function ledger(p, m)\n"                                                         \
    "  if m == 't' then return p .. ':budget_ledger:', 'spent_tokens', 'reserved_tokens', " \
    "p .. ':budget_keys' end\n"                                                             \
    "  return p .. ':cost_ledger:', 'spent_usd_micros', 'reserved_usd_micros', "            \
    "p .. ':cost_keys'\n"                                                                   \
    "end\n"                                                                                 \
    "local function now_ms()\n"                                                             \
    "  local t = redis.call('TIME')\n"                                                      \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                  \
    "end\n"

constexpr std::string_view rate_admit_src = R"lua(
local p = ARGV[1]
-- A prefix moved to layout 2 (lua/migrate.lua) refuses layout 1's admissions: their keys
-- would be read by nobody.
local layout = redis.call('GET', p .. ':layout')
if layout and layout ~= '1' then return redis.error_reply('LAYOUT the prefix holds key layout ' .. layout) end
local tokens = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(redis.call('TIME')[1])
local minute = math.floor(now / 60)
local s = now % 60
local charged = {}
for i = 0, n - 1 do
  local id = ARGV[4 + i * 3]
  local rpm = tonumber(ARGV[5 + i * 3])
  local tpm = tonumber(ARGV[6 + i * 3])
  local rc = p .. ':rate_limit:req:' .. id .. ':' .. minute
  local tc = p .. ':rate_limit:tok:' .. id .. ':' .. minute
  if rpm >= 0 then
    local cur = tonumber(redis.call('GET', rc) or '0')
    local prev = tonumber(redis.call('GET', p .. ':rate_limit:req:' .. id .. ':' .. (minute - 1)) or '0')
    if rpm == 0 or (cur + 1) * 60 + prev * (60 - s) > rpm * 60 then
      return {0, i, 'rpm>' .. ARGV[5 + i * 3], 60 - s, minute}
    end
  end
  if tpm >= 0 then
    local cur = tonumber(redis.call('GET', tc) or '0')
    local prev = tonumber(redis.call('GET', p .. ':rate_limit:tok:' .. id .. ':' .. (minute - 1)) or '0')
    if tpm == 0 or (cur + tokens) * 60 + prev * (60 - s) > tpm * 60 then
      return {0, i, 'tpm>' .. ARGV[6 + i * 3], 60 - s, minute}
    end
  end
  charged[#charged + 1] = rc
  charged[#charged + 1] = tc
end
for i = 1, #charged, 2 do
  redis.call('INCR', charged[i])
  redis.call('EXPIRE', charged[i], 180)
  redis.call('INCRBY', charged[i + 1], ARGV[2])
  redis.call('EXPIRE', charged[i + 1], 180)
end
return {1, 0, '', 0, minute}
)lua";

constexpr std::string_view rate_adjust_src = R"lua(
local p = ARGV[1]
local minute = tonumber(ARGV[2])
if math.floor(tonumber(redis.call('TIME')[1]) / 60) ~= minute then return 0 end
local req = tonumber(ARGV[3])
local tok = tonumber(ARGV[4])
local function take(k, x)
  if x == 0 or redis.call('EXISTS', k) == 0 then return end
  local v = redis.call('DECRBY', k, x)
  if v <= 0 then redis.call('DEL', k) end
end
for i = 5, #ARGV do
  take(p .. ':rate_limit:req:' .. ARGV[i] .. ':' .. minute, req)
  take(p .. ':rate_limit:tok:' .. ARGV[i] .. ':' .. minute, tok)
end
return 1
)lua";

constexpr std::string_view budget_reserve_src = DITTO_LUA_LEDGER R"lua(
local p = ARGV[1]
-- A prefix moved to layout 2 (lua/migrate.lua) refuses layout 1's admissions: their keys
-- would be read by nobody.
local layout = redis.call('GET', p .. ':layout')
if layout and layout ~= '1' then return redis.error_reply('LAYOUT the prefix holds key layout ' .. layout) end
local rid = ARGV[2]
local rk = p .. ':reservation:' .. rid
if redis.call('EXISTS', rk) == 1 then return {1, 1, 0, 0, 0} end
-- Settled before it arrived: a reserve whose reply the gateway never got (a timeout, a lost
-- connection) and which it has already rolled back. Running it now would reserve for nobody.
if redis.call('EXISTS', p .. ':settled:' .. rid) == 1 then return {1, 1, 0, 0, 0} end
local n = tonumber(ARGV[4])
local pending = {}
local lines = {}
for i = 0, n - 1 do
  local m, scope, limit, amount = ARGV[5 + i * 4], ARGV[6 + i * 4], tonumber(ARGV[7 + i * 4]), ARGV[8 + i * 4]
  local lk, sf, rf = ledger(p, m)
  local key = lk .. scope
  pending[key] = (pending[key] or 0) + tonumber(amount)
  if limit >= 0 then
    local v = redis.call('HMGET', key, sf, rf)
    local attempted = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0) + pending[key]
    if attempted > limit then return {0, 0, i, ARGV[7 + i * 4], string.format('%.0f', attempted)} end
  end
  lines[#lines + 1] = {m, scope, amount}
end
local now = now_ms()
for _, l in ipairs(lines) do
  local lk, sf, rf, set = ledger(p, l[1])
  local key = lk .. l[2]
  redis.call('HINCRBY', key, rf, l[3])
  redis.call('HSET', key, 'updated_at_ms', now)
  redis.call('SADD', set, l[2])
end
redis.call('HSET', rk, 'key_id', ARGV[3], 'ts_ms', now, 'lines', cjson.encode(lines))
redis.call('ZADD', p .. ':reservations_by_ts', now, rid)
return {1, 0, 0, 0, 0}
)lua";

// Releasing a reservation is shared by settle and reap.
#define DITTO_LUA_RELEASE                                                               \
    "local function release(p, rid, spend, actual_t, actual_u)\n"                       \
    "  local rk = p .. ':reservation:' .. rid\n"                                        \
    "  local raw = redis.call('HGET', rk, 'lines')\n"                                   \
    "  redis.call('ZREM', p .. ':reservations_by_ts', rid)\n"                           \
    "  if not raw then return nil end\n"                                                \
    "  local now = now_ms()\n"                                                          \
    "  local released = {t = 0, u = 0}\n"                                               \
    "  for _, l in ipairs(cjson.decode(raw)) do\n"                                      \
    "    local lk, sf, rf = ledger(p, l[1])\n"                                          \
    "    local key = lk .. l[2]\n"                                                      \
    "    local r = (tonumber(redis.call('HGET', key, rf)) or 0) - tonumber(l[3])\n"     \
    "    if r < 0 then r = 0 end\n"                                                     \
    "    redis.call('HSET', key, rf, string.format('%.0f', r), 'updated_at_ms', now)\n" \
    "    released[l[1]] = released[l[1]] + tonumber(l[3])\n"                            \
    "    if spend then\n"                                                               \
    "      local a = l[3]\n"                                                            \
    "      if l[1] == 't' and actual_t ~= '-1' then a = actual_t end\n"                 \
    "      if l[1] == 'u' and actual_u ~= '-1' then a = actual_u end\n"                 \
    "      redis.call('HINCRBY', key, sf, a)\n"                                         \
    "    end\n"                                                                         \
    "  end\n"                                                                           \
    "  redis.call('DEL', rk)\n"                                                         \
    "  return released\n"                                                               \
    "end\n"

constexpr std::string_view budget_settle_src = DITTO_LUA_LEDGER DITTO_LUA_RELEASE R"lua(
local r = release(ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5])
if r then return 1 end
-- Nothing to settle: the reserve may still be on its way (written on a connection that was
-- then lost, run when Redis wakes up). A marker makes it a no-op when it comes; a day is far
-- longer than any reply can be late, and the marker exists only for these rare ids.
redis.call('SET', ARGV[1] .. ':settled:' .. ARGV[2], '1', 'EX', 86400)
return 0
)lua";

constexpr std::string_view budget_reap_src = DITTO_LUA_LEDGER DITTO_LUA_RELEASE R"lua(
local p = ARGV[1]
-- The cutoff is Redis time, the clock that stamped the reservations (ARGV[2] is an age in ms).
local cutoff = now_ms() - tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', p .. ':reservations_by_ts', '-inf', string.format('%d', cutoff), 'LIMIT', 0, tonumber(ARGV[3]))
local reaped, t, u = 0, 0, 0
for _, rid in ipairs(ids) do
  if ARGV[4] == '1' then
    local raw = redis.call('HGET', p .. ':reservation:' .. rid, 'lines')
    if raw then
      reaped = reaped + 1
      for _, l in ipairs(cjson.decode(raw)) do
        if l[1] == 't' then t = t + tonumber(l[3]) else u = u + tonumber(l[3]) end
      end
    end
  else
    local r = release(p, rid, false, '-1', '-1')
    if r then
      reaped = reaped + 1
      t = t + r.t
      u = u + r.u
    end
  end
end
return {#ids, reaped, string.format('%.0f', t), string.format('%.0f', u), string.format('%d', cutoff)}
)lua";

constexpr std::string_view audit_append_src = R"lua(
local p = ARGV[1]
-- ARGV[6] names the record (a hash of its kind and payload): an append whose reply was lost
-- and which the gateway then retries must not be stored twice. Retries come within seconds
-- of Redis answering again; five minutes of memory is plenty.
if not redis.call('SET', p .. ':audit_once:' .. ARGV[6], '1', 'NX', 'EX', 300) then return 0 end
local id = redis.call('INCR', p .. ':audit_seq')
local key = p .. ':audit:' .. string.format('%020d', id)
local ts = tonumber(ARGV[4])
local keep = tonumber(ARGV[5])
redis.call('HSET', key, 'id', id, 'ts_ms', ARGV[4], 'kind', ARGV[2], 'payload', ARGV[3])
if keep > 0 then
  redis.call('EXPIRE', key, keep)
  if id % 500 == 0 then
    redis.call('ZREMRANGEBYSCORE', p .. ':audit_by_ts', '-inf', '(' .. (ts - keep * 1000))
  end
end
redis.call('ZADD', p .. ':audit_by_ts', ts, string.format('%020d', id))
return id
)lua";

constexpr std::string_view control_save_src = R"lua(
-- KEYS: P:control_version, P:virtual_keys, P:router_config (declared: a Redis Cluster routes
-- and migrates by them).
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then return -1 - current end
redis.call('DEL', KEYS[2])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[3], ARGV[3])
else
  redis.call('DEL', KEYS[3])
end
return redis.call('INCR', KEYS[1])
)lua";

#undef DITTO_LUA_LEDGER
#undef DITTO_LUA_RELEASE

}  // namespace

const lua_script& rate_admit_script() {
    static const lua_script s = make(rate_admit_src);
    return s;
}
const lua_script& rate_adjust_script() {
    static const lua_script s = make(rate_adjust_src);
    return s;
}
const lua_script& budget_reserve_script() {
    static const lua_script s = make(budget_reserve_src);
    return s;
}
const lua_script& budget_settle_script() {
    static const lua_script s = make(budget_settle_src);
    return s;
}
const lua_script& budget_reap_script() {
    static const lua_script s = make(budget_reap_src);
    return s;
}
const lua_script& audit_append_script() {
    static const lua_script s = make(audit_append_src);
    return s;
}

const lua_script& control_save_script() {
    static const lua_script s = make(control_save_src);
    return s;
}

const lua_script& v2_admit_script() {
    static const lua_script s = make(lua::admit);
    return s;
}
const lua_script& v2_settle_script() {
    static const lua_script s = make(lua::settle);
    return s;
}
const lua_script& v2_reap_script() {
    static const lua_script s = make(lua::reap);
    return s;
}
const lua_script& v2_migrate_script() {
    static const lua_script s = make(lua::migrate);
    return s;
}
const lua_script& dedup_begin_script() {
    static const lua_script s = make(lua::dedup_begin);
    return s;
}
const lua_script& dedup_end_script() {
    static const lua_script s = make(lua::dedup_end);
    return s;
}

}  // namespace ditto::store::redis
