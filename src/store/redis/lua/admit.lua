-- admit: layout v2 admission, one call per request (docs/redis.md, "Layout v2").
-- Checked and measured by bench/redis_v2.py; run by the Redis governor (redis_governor.cpp).
--
-- KEYS   1..n  the scope hashes P:scope:<scope>, each scope once
--        n+1   P:res:<sec>, the bucket of the replica's second
-- ARGV   1 rid   2 sec (the replica's unix second)   3 the token charge (for tpm)
--        then 8 per scope, in KEYS order: rpm, tpm, token budget, uUSD budget (-1: none),
--        tokens to reserve, uUSD to reserve (-1: the scope has no line for that metric: no
--        budget check, nothing reserved, nothing spent at settlement; a budget of -1 with an
--        amount >= 0 records the spend without a limit), window, expiry.
--        window (budget periods, docs/governance.md): 0 the scope always counts; w > 0 it
--        counts only from Redis second w on, w < 0 only before second -w. Near a period's
--        boundary the gateway names the ledgers of both periods, each with its window, and
--        Redis TIME picks one: the clock of every replica is Redis's. A scope that does not
--        count is skipped whole: its entry fields are '~', and settle and reap pass it by.
--        expiry: 0 none; else the unix second at which a ledger this call creates expires
--        (EXPIREAT: a past period's ledger is dropped after its retention).
--        A cache hit passes -1 for every amount: rate limits only, no budget reserved or spent
--        (its entry is still written: settle stays exactly-once).
--
-- Reply  0    admitted; {0, i, j, ...} admitted, scopes i, j, ... skipped by their window
--        1    duplicate: the rid is already in the bucket, nothing added. The check is the
--             HSETNX itself, after the limits: a duplicate that the limits now refuse gets the
--             refusal (nothing is charged either way)
--        2    no-op: the bucket holds the marker 'x' of a settlement that came first
--        -(i*1000 + k*100 + w)  refused by scope i (1-based, KEYS order) on limit k
--             (1 rpm, 2 tpm, 3 token budget, 4 uUSD budget); w = seconds to the next
--             minute (1..60) for rpm and tpm, 0 for budgets. A refusal writes nothing.
--             e.g. -2160: scope 2, rpm, retry in 60 s; a budget refusal is the pair
--             {-(i*1000 + k*100), "<spent + reserved + amount>"}: {-1300, "1107"} scope 1, token
--             budget
--        error "SKEW ..." when sec is more than 300 s from Redis TIME (nothing written)
--
-- The bucket entry, rid -> "<minute> <t1> <u1> ... <tn> <un> <KEYS[1]> ... <KEYS[n]>"
--   minute: the Redis minute of the admission (settle corrects rate counters in it only);
--   ti, ui: the amounts reserved on scope i, '-' for no line, '~' for a scope skipped by its
--   window (neither read nor written by anyone); then the scope key names, read
--   by reap only (settle gets the keys in its own KEYS). Scope key names hold no space (the
--   gateway percent-encodes the scope id in the key name; a key with one is an error reply).
--   Other values: 'x' the marker of a settlement that found no entry (settle), 'r' a
--   reservation released by reap in a second it could not close yet (reap).
--
-- Counters: m (minute), rq, tk (this minute), prq, ptk (the previous minute), rolled here:
-- stored m = this minute - 1 -> prev := cur, cur := 0; older -> both 0. A scope admits while
-- (rq + 1) * 60 + prq * (60 - s) <= rpm * 60, s seconds into the minute (tokens likewise).
-- Budgets: st + rt + amount <= limit (spent, reserved tokens; su, ru for uUSD).
--
-- Writes: HSETNX of the entry first (denyoom: a full Redis refuses the call before anything
-- changed), then one HSET per scope. Integers are written as strings (%d): a Lua number
-- handed to redis.call may become "1e+15".

local n = #KEYS - 1
local bucket = KEYS[n + 1]
local t = redis.call('TIME')
local now = tonumber(t[1])
local sec = tonumber(ARGV[2])
if not sec or math.abs(now - sec) > 300 then
  return redis.error_reply('SKEW replica second ' .. ARGV[2] .. ' is more than 300 s from Redis time ' .. t[1])
end

-- One metric's line of a scope: the amount to reserve (-1: no line), its budget (-1: none), the
-- stored spent and reserved. Returns the entry's field ('-' for no line) and the new reserved
-- amount (false for no line), or nil and the amount attempted (spent + reserved + amount) when
-- the budget refuses.
local function reserve(amount, budget, spent, reserved)
  if amount == '-1' then return '-', false end
  local r = (tonumber(reserved) or 0) + tonumber(amount)
  local attempted = (tonumber(spent) or 0) + r
  if budget ~= '-1' and attempted > tonumber(budget) then return nil, attempted end
  return amount, r
end

local minute = math.floor(now / 60)
local wait = 60 - now % 60
local charge = tonumber(ARGV[3])
local fmt = string.format
local rows = {}
local entry = {fmt('%d', minute)}
local skipped = nil

for i = 1, n do
  local a = 3 + (i - 1) * 8
  local key = KEYS[i]
  if string.find(key, ' ', 1, true) then
    return redis.error_reply('ARGS a scope key holds a space: ' .. key)
  end
  local w = tonumber(ARGV[a + 7])
  if w ~= 0 and ((w > 0 and now < w) or (w < 0 and now >= -w)) then
    skipped = skipped or {0}
    skipped[#skipped + 1] = i
    entry[2 * i], entry[2 * i + 1], entry[2 * n + 1 + i] = '~', '~', key
  else
    -- Only what the scope limits is read (and written below): its rate counters when it has
    -- rpm or tpm, its ledgers when it has a budget line (a period's ledger has no counters).
    local rpm, tpm = ARGV[a + 1], ARGV[a + 2]
    local rate = rpm ~= '-1' or tpm ~= '-1'
    local lines = ARGV[a + 5] ~= '-1' or ARGV[a + 6] ~= '-1'
    local v
    if rate and lines then
      v = redis.call('HMGET', key, 'm', 'rq', 'tk', 'prq', 'ptk', 'st', 'rt', 'su', 'ru')
    elseif rate then
      v = redis.call('HMGET', key, 'm', 'rq', 'tk', 'prq', 'ptk')
    elseif lines then
      local b = redis.call('HMGET', key, 'st', 'rt', 'su', 'ru')
      v = {false, false, false, false, false, b[1], b[2], b[3], b[4]}
    else
      v = {}
    end
    local m = tonumber(v[1])
    -- the counters as they are after rolling to this minute; prq and ptk kept as strings
    local rq, tk, prq, ptk, p1, p2 = 0, 0, 0, 0, '0', '0'
    if m == minute then
      rq, tk = tonumber(v[2]) or 0, tonumber(v[3]) or 0
      p1, p2 = v[4] or '0', v[5] or '0'
    elseif m == minute - 1 then
      p1, p2 = v[2] or '0', v[3] or '0'
    end
    if rpm ~= '-1' then
      prq = tonumber(p1)
      if (rq + 1) * 60 + prq * wait > tonumber(rpm) * 60 then return -(i * 1000 + 100 + wait) end
    end
    if tpm ~= '-1' then
      tpm = tonumber(tpm)
      ptk = tonumber(p2)
      if tpm == 0 or (tk + charge) * 60 + ptk * wait > tpm * 60 then
        return -(i * 1000 + 200 + wait)
      end
    end
    local ta, rt = reserve(ARGV[a + 5], ARGV[a + 3], v[6], v[7])
    if not ta then return {-(i * 1000 + 300), fmt('%d', rt)} end
    local ua, ru = reserve(ARGV[a + 6], ARGV[a + 4], v[8], v[9])
    if not ua then return {-(i * 1000 + 400), fmt('%d', ru)} end
    local x = ARGV[a + 8]
    if x == '0' or v[6] or v[7] or v[8] or v[9] then x = false end
    rows[i] = {rq + 1, tk + charge, p1, p2, rt, ru, x, rate}
    entry[2 * i] = ta
    entry[2 * i + 1] = ua
    entry[2 * n + 1 + i] = key
  end
end

if redis.call('HSETNX', bucket, ARGV[1], table.concat(entry, ' ')) == 0 then
  -- rare: a duplicate, or the marker of a settlement that came first
  if redis.call('HGET', bucket, ARGV[1]) == 'x' then return 2 end
  return 1
end

local up = fmt('%d', now * 1000 + math.floor(tonumber(t[2]) / 1000))
local mm = entry[1]
for i = 1, n do
  local r = rows[i]
  if r then
    local args = {'up', up}
    if r[8] then
      args = {'m', mm, 'rq', fmt('%d', r[1]), 'tk', fmt('%d', r[2]), 'prq', r[3], 'ptk', r[4],
              'up', up}
    end
    if r[5] then args[#args + 1], args[#args + 2] = 'rt', fmt('%d', r[5]) end
    if r[6] then args[#args + 1], args[#args + 2] = 'ru', fmt('%d', r[6]) end
    redis.call('HSET', KEYS[i], unpack(args))
    if r[7] then redis.call('EXPIREAT', KEYS[i], r[7]) end
  end
end
return skipped or 0
