-- reap: layout v2 release of reservations older than the lease (docs/redis.md, "Layout v2").
-- Checked and measured by bench/redis_v2.py; run by the Redis governor (redis_governor.cpp).
--
-- The reaper reads TIME and P:reap (the watermark: the first second not yet reaped), then the
-- buckets from the watermark to TIME - lease (HGETALL, plain reads) to learn the scope hashes
-- their entries name, then calls this script with every key declared:
-- KEYS   1 P:reap   2..b+1 the buckets P:res:<s>, s = first .. first + b - 1
--        b+2.. the scope hashes named in those entries, each once
-- ARGV   1 the watermark read ('' when P:reap is unset)   2 first second (= ARGV[1] when set)
--        3 b, the number of buckets (1..600)   4 the lease in seconds
-- Reply  {status, buckets deleted, reservations released, tokens released, uUSD released,
--         the watermark now}; the two sums as decimal strings
--        status 1 done; 0 the watermark is no longer ARGV[1] (another reaper was first:
--        nothing done); -1 an entry names a scope hash missing from KEYS (an admission
--        landed in between: read the buckets again; nothing done)
--        error "LEASE ..." when the last second is younger than the lease by Redis TIME.
--
-- Each reservation is released once: the watermark moves in the same call that deletes the
-- buckets, and a second reaper with the same expected watermark does nothing.
-- An admission accepts seconds within 300 s of Redis time, so a second s can still receive
-- entries until TIME > s + 300. A bucket that old is deleted and the watermark moved past it;
-- a younger one (a lease under 301 s, e.g. an admin reap of age 0) is not: its entries are
-- released and replaced by the tombstone 'r' (settle then audits without spending), and the
-- watermark stays, so a later admission in that second is reaped by a later call.
-- Markers 'x' (a settlement before its admission) are not reservations: kept, deleted with
-- their bucket. When a bucket is deleted the first write is that DEL, so reap runs on a full
-- Redis (it frees memory); tombstoning only starts with HSET, refused whole on a full Redis.

local b = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return {0, 0, 0, '0', '0', current} end
local first = tonumber(ARGV[2])
if ARGV[1] ~= '' and first ~= tonumber(ARGV[1]) then
  return redis.error_reply('ARGS first second ' .. ARGV[2] .. ' is not the watermark ' .. ARGV[1])
end
if not b or b < 1 or b > 600 or #KEYS < b + 1 then
  return redis.error_reply('ARGS between 1 and 600 buckets, all in KEYS')
end
local t = redis.call('TIME')
local now = tonumber(t[1])
local last = first + b - 1
if last + tonumber(ARGV[4]) > now then
  return redis.error_reply('LEASE second ' .. last .. ' is younger than the lease at Redis time ' .. t[1])
end
local hold = now - 301  -- the last second no admission can write to any more

local declared = {}
for k = b + 2, #KEYS do declared[KEYS[k]] = {0, 0} end

local released, tokens, usd = 0, 0, 0
local deleted, tombs = {}, {}
for k = 2, b + 1 do
  local s = first + k - 2
  local h = redis.call('HGETALL', KEYS[k])
  local tomb = nil
  if s > hold and #h > 0 then
    tomb = {'HSET', KEYS[k]}
  end
  for e = 1, #h, 2 do
    local v = h[e + 1]
    if v ~= 'r' and v ~= 'x' then  -- not a tombstone nor a settlement's marker
      local f = {}
      for w in string.gmatch(v, '%S+') do f[#f + 1] = w end
      local n = (#f - 1) / 3
      for j = 1, n do
        local d = declared[f[2 * n + 1 + j]]
        if not d then return {-1, 0, 0, '0', '0', current} end
        local ta, ua = f[2 * j], f[2 * j + 1]
        -- '-' no line, '~' a scope its window skipped: nothing reserved there
        if ta ~= '-' and ta ~= '~' then d[1] = d[1] + tonumber(ta); tokens = tokens + tonumber(ta) end
        if ua ~= '-' and ua ~= '~' then d[2] = d[2] + tonumber(ua); usd = usd + tonumber(ua) end
      end
      released = released + 1
      if tomb then
        tomb[#tomb + 1] = h[e]
        tomb[#tomb + 1] = 'r'
      end
    end
  end
  if s <= hold then
    if #h > 0 then deleted[#deleted + 1] = KEYS[k] end
  elseif tomb and #tomb > 2 then
    tombs[#tombs + 1] = tomb
  end
end

if #deleted > 0 then redis.call('DEL', unpack(deleted)) end
for _, tomb in ipairs(tombs) do redis.call(unpack(tomb)) end
local up = string.format('%d', now * 1000 + math.floor(tonumber(t[2]) / 1000))
for name, d in pairs(declared) do
  if d[1] > 0 or d[2] > 0 then
    local c = redis.call('HMGET', name, 'rt', 'ru')
    local a = {'HSET', name, 'up', up}
    if d[1] > 0 then
      local rt = (tonumber(c[1]) or 0) - d[1]
      a[5], a[6] = 'rt', string.format('%d', rt > 0 and rt or 0)
    end
    if d[2] > 0 then
      local ru = (tonumber(c[2]) or 0) - d[2]
      a[#a + 1] = 'ru'
      a[#a + 1] = string.format('%d', ru > 0 and ru or 0)
    end
    redis.call(unpack(a))
  end
end
local w = math.min(last, hold) + 1
if w < first then w = first end
w = string.format('%d', w)
if w ~= current then redis.call('SET', KEYS[1], w) end
return {1, #deleted, released, string.format('%d', tokens), string.format('%d', usd), w}
