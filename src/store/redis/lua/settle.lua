-- settle: layout v2 settlement, one call for one or more settlements (group commit)
-- (docs/redis.md, "Layout v2"). Not yet used by the gateway: prototype checked by
-- bench/redis_v2.py.
--
-- KEYS   1 P:reap   2 P:audit   3.. every other key of the settlements (scope hashes
--        P:scope:<scope>, buckets P:res:<sec>, markers P:once:<rid>), each once, named by its
--        index in KEYS from ARGV. Settlements with different scopes, seconds or kinds can
--        therefore share one call.
-- ARGV   1 audit retention in ms (0: keep every record), then per settlement 12 + n values:
--        rid, sec, bucket#, once#, flag, tokens, usd, refund, token delta, kind, payload, n,
--        scope#1 .. scope#n
--          #: an index into KEYS
--          flag: 'c' commit (spend the actual amounts), 'r' roll back (spend nothing),
--                'a' audit record only (no reservation: a refusal, a request without scopes;
--                rid, sec, bucket# and the amounts are ignored; once# > 0 names a marker
--                P:once:<hash of the record> kept 300 s so a retried record is stored once;
--                0: no marker)
--          tokens, usd: actual amounts spent on every scope with a line for that metric;
--                -1: as reserved
--          refund: 1 gives the request's place in rpm back; token delta: added to the tpm
--                counter (actual - charge; negative gives tokens back). Both only when Redis
--                is still in the minute of the admission (the entry records it)
--          kind: '' writes no audit record
--          scope#: the scope hashes in the order the admission passed them
-- Reply  one integer per settlement, in order:
--        0 settled (the reservation was live)   1 already reaped: audit record only
--        2 absent (the admission has not run): P:once:<rid> set for a day, nothing else
--        3 audit record stored ('a')           4 audit record already stored ('a', marker)
--
-- The bucket entry decides (HGET): present -> live; 'r' (a tombstone left by reap for a
-- second it may not close yet) or missing with sec below the watermark -> reaped;
-- missing otherwise -> absent. A retried settlement whose first reply was lost finds its
-- entry gone: absent, nothing counted twice; only if the reaper passed its second in between
-- (an outage longer than the lease) is its audit record written twice.
--
-- First write of the call is denyoom (XADD, HSET or SET; HDEL always after them): a full
-- Redis refuses the whole call before anything changed. Only a live settlement with no
-- audit record and no scope writes HDEL first (it frees memory).

local t = redis.call('TIME')
local now = tonumber(t[1])
local minute = math.floor(now / 60)
local fmt = string.format
local up = fmt('%d', now * 1000 + math.floor(tonumber(t[2]) / 1000))
local keep = tonumber(ARGV[1])
local minid = keep > 0 and fmt('%d', now * 1000 - keep) or nil
local watermark = false
local out = {}

local function audit(kind, payload)
  if kind == '' then return end
  if minid then
    redis.call('XADD', KEYS[2], 'MINID', '~', minid, '*', 'kind', kind, 'payload', payload)
    minid = nil  -- trimming once per call is enough
  else
    redis.call('XADD', KEYS[2], '*', 'kind', kind, 'payload', payload)
  end
end

local function below_watermark(sec)
  if watermark == false then watermark = tonumber(redis.call('GET', KEYS[1]) or '') end
  return watermark ~= nil and sec < watermark
end

local i = 2
while i <= #ARGV do
  local rid, sec, bucket = ARGV[i], tonumber(ARGV[i + 1]), KEYS[tonumber(ARGV[i + 2])]
  local oi, flag = tonumber(ARGV[i + 3]), ARGV[i + 4]
  local kind, payload = ARGV[i + 9], ARGV[i + 10]
  local n = tonumber(ARGV[i + 11])
  local s = i + 12
  local result
  if flag == 'a' then
    if oi > 0 and not redis.call('SET', KEYS[oi], '1', 'NX', 'EX', 300) then
      result = 4
    else
      audit(kind, payload)
      result = 3
    end
  else
    local v = redis.call('HGET', bucket, rid)
    if v and v ~= 'r' then
      local nl = string.find(v, '\n', 1, true)
      local f = {}
      for w in string.gmatch(string.sub(v, 1, nl - 1), '%S+') do f[#f + 1] = w end
      local same = tonumber(f[1]) == minute
      local refund, delta = tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
      local correct = same and (refund ~= 0 or delta ~= 0)
      local commit = flag == 'c'
      local at, au = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
      audit(kind, payload)
      for j = 1, n do
        local key = KEYS[tonumber(ARGV[s + j - 1])]
        local ta, ua = f[2 * j], f[2 * j + 1]
        local c = redis.call('HMGET', key, 'm', 'rq', 'tk', 'st', 'rt', 'su', 'ru')
        local a = {'HSET', key, 'up', up}
        if correct and tonumber(c[1]) == minute then
          local rq = (tonumber(c[2]) or 0) - refund
          local tk = (tonumber(c[3]) or 0) + delta
          a[#a + 1] = 'rq'
          a[#a + 1] = rq > 0 and rq or 0
          a[#a + 1] = 'tk'
          a[#a + 1] = fmt('%d', tk > 0 and tk or 0)
        end
        if ta ~= '-' then
          local r = tonumber(ta)
          local rt = (tonumber(c[5]) or 0) - r
          a[#a + 1] = 'rt'
          a[#a + 1] = fmt('%d', rt > 0 and rt or 0)
          if commit then
            a[#a + 1] = 'st'
            a[#a + 1] = fmt('%d', (tonumber(c[4]) or 0) + (at >= 0 and at or r))
          end
        end
        if ua ~= '-' then
          local r = tonumber(ua)
          local ru = (tonumber(c[7]) or 0) - r
          a[#a + 1] = 'ru'
          a[#a + 1] = fmt('%d', ru > 0 and ru or 0)
          if commit then
            a[#a + 1] = 'su'
            a[#a + 1] = fmt('%d', (tonumber(c[6]) or 0) + (au >= 0 and au or r))
          end
        end
        redis.call(unpack(a))
      end
      redis.call('HDEL', bucket, rid)
      result = 0
    elseif v or below_watermark(sec) then
      audit(kind, payload)
      if v then redis.call('HDEL', bucket, rid) end
      result = 1
    else
      redis.call('SET', KEYS[oi], '1', 'EX', 86400)
      result = 2
    end
  end
  out[#out + 1] = result
  i = s + n
end
return out
