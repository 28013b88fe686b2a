-- migrate: a prefix of key layout 1 becomes layout 2, once (docs/redis.md, "Upgrading from
-- layout 1"). Run by the first replica started with --redis-migrate (redis_v2_store.cpp); one
-- atomic call, so no admission of either layout interleaves with it. It names the keys it
-- touches itself (layout 1 keeps its scope ids in sets): a single Redis, not Cluster.
--
-- ARGV   1 the prefix P
-- Reply  {ledgers, reservations} moved, or {-1, 0} when P:layout is already set (another
--        replica migrated first, or the prefix was never layout 1): nothing done.
--
-- Moves:
--   P:budget_ledger:<id>, P:cost_ledger:<id> (listed in P:budget_keys, P:cost_keys) ->
--     st, rt / su, ru, up of P:scope:<id percent-encoded as the gateway does>
--   P:reservation:<rid> (listed in P:reservations_by_ts) -> the entry rid of P:res:<its second>,
--     so the layout 2 reaper releases it when its lease ends, as a dead replica's
--   then SET P:reap (the watermark, at or before the oldest moved reservation) and P:layout 2.
-- Left to expire: rate counters (a new minute starts from zero), P:settled:* and
-- P:audit_once:* markers, and the audit records, which the layout 2 audit log still lists
-- after its own stream.
local p = ARGV[1]
if redis.call('EXISTS', p .. ':layout') == 1 then return {-1, 0} end
local fmt = string.format
local t = redis.call('TIME')
local now = tonumber(t[1])
local up = fmt('%d', now * 1000 + math.floor(tonumber(t[2]) / 1000))

-- core::percent_encode(id, ":"): unreserved characters and ':' kept, the rest %XX.
local function scope_key(id)
  local enc = string.gsub(id, '[^A-Za-z0-9%-%._~:]', function(c)
    return fmt('%%%02X', string.byte(c))
  end)
  return p .. ':scope:' .. enc
end

local ledgers = 0
local function move_ledgers(set, prefix, spent, reserved, s_field, r_field)
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    local v = redis.call('HMGET', prefix .. id, spent, reserved, 'updated_at_ms')
    redis.call('HSET', scope_key(id), s_field, fmt('%d', tonumber(v[1]) or 0),
               r_field, fmt('%d', tonumber(v[2]) or 0), 'up', v[3] or up)
    redis.call('DEL', prefix .. id)
    ledgers = ledgers + 1
  end
  redis.call('DEL', set)
end
move_ledgers(p .. ':budget_keys', p .. ':budget_ledger:', 'spent_tokens', 'reserved_tokens', 'st', 'rt')
move_ledgers(p .. ':cost_keys', p .. ':cost_ledger:', 'spent_usd_micros', 'reserved_usd_micros', 'su', 'ru')

-- An entry is "<minute> <t1> <u1> ... <tn> <un> <scope key 1> ... <scope key n>" ('-': no line).
local first = now - 300
local moved = 0
for _, rid in ipairs(redis.call('ZRANGE', p .. ':reservations_by_ts', 0, -1)) do
  local rk = p .. ':reservation:' .. rid
  local h = redis.call('HMGET', rk, 'ts_ms', 'lines')
  if h[2] then  -- a rid is a field name: any bytes, spaces too
    local sec = math.floor((tonumber(h[1]) or now * 1000) / 1000)
    local order, amounts = {}, {}
    for _, l in ipairs(cjson.decode(h[2])) do
      local key = scope_key(l[2])
      if not amounts[key] then
        amounts[key] = {0, 0, false, false}
        order[#order + 1] = key
      end
      local a = amounts[key]
      local slot = l[1] == 't' and 1 or 2
      a[slot] = a[slot] + tonumber(l[3])
      a[slot + 2] = true
    end
    local entry = {fmt('%d', math.floor(sec / 60))}
    for _, key in ipairs(order) do
      local a = amounts[key]
      entry[#entry + 1] = a[3] and fmt('%d', a[1]) or '-'
      entry[#entry + 1] = a[4] and fmt('%d', a[2]) or '-'
    end
    for _, key in ipairs(order) do entry[#entry + 1] = key end
    redis.call('HSET', p .. ':res:' .. fmt('%d', sec), rid, table.concat(entry, ' '))
    if sec < first then first = sec end
    moved = moved + 1
  end
  redis.call('DEL', rk)
end
redis.call('DEL', p .. ':reservations_by_ts')
redis.call('SET', p .. ':reap', fmt('%d', first))
redis.call('SET', p .. ':layout', '2')
return {ledgers, moved}
