-- settle: layout v2 settlement, one call for one or more settlements (group commit)
-- (docs/redis.md, "Layout v2"). Checked and measured by
-- bench/redis_v2.py; run by the Redis governor (redis_governor.cpp).
--
-- KEYS   1 P:reap   2 P:audit   3.. every other key of the settlements (scope hashes
--        P:scope:<scope>, buckets P:res:<sec>, markers P:once:<hash> of audit-only records),
--        each once, named by its index in KEYS from ARGV: settlements with different scopes,
--        seconds or kinds share one call.
-- ARGV   1 audit retention in ms (0: keep every record), 2 spend retention in seconds, then
--        per settlement 15 + n values:
--        rid, sec, key#, flag, tokens, usd, refund, token delta, kind, payload,
--        hour#, day#, dims, amounts, n, scope#1 .. scope#n          (#: an index into KEYS)
--          flag 'c' commit (spend the actual amounts), 'r' roll back (spend nothing):
--                key# is the bucket P:res:<sec>;
--               'a' an audit record only (no reservation: a refusal, a request without
--                scopes): rid, sec, amounts and scopes ignored; key# > 0 names a marker
--                P:once:<writer's nonce>-<hash of the record> (or -s-<write id> for a spend
--                only) kept 300 s, so a retried record is stored once; 0: no marker
--          tokens, usd: the actual amounts, spent on every scope with a line for that
--                metric; -1: as reserved
--          refund 1 gives the request's place in rpm back; token delta is added to the tpm
--                counter (actual - charge; negative gives tokens back); both only while
--                Redis is still in the minute of the admission (the entry records it)
--          kind '' writes no audit record
--          hour#, day#, dims, amounts: a served request's spend (docs/governance.md, "Spend
--                over time"): the row `dims` of the buckets P:spend:h:<hour> and
--                P:spend:d:<day> gains one request and `amounts` ("<input> <output> <cached>
--                <uUSD>"), when the settlement writes its audit record (replies 0, 1, 3) —
--                so a retried settlement counts once. dims '': no spend. A bucket's row is
--                "<requests> <input> <output> <cached> <uUSD>"; the bucket expires spend
--                retention + a day after its last write
--          scope#: the scope hashes in the order the admission passed them
-- Reply  one integer per settlement, in order:
--        0 settled (live)      1 already reaped: the audit record only, nothing spent
--        2 absent (the admission has not run, or this settlement already did): the marker
--          'x' is left in the bucket (a late admission of this rid then does nothing), no
--          audit record
--        3 audit record stored ('a')      4 audit record already stored ('a', marker)
--
-- The bucket entry decides (HMGET): a reservation -> live; 'r' (released by reap in a second
-- it could not close yet) or missing with sec below the watermark -> reaped; 'x' or missing
-- otherwise -> absent. A retried settlement whose first reply was lost finds no entry: absent,
-- nothing counted twice. Only if the reaper passed its second in between (an outage longer
-- than the lease) is its audit record written twice.
--
-- Each bucket and each scope hash is read once per call (HMGET) and written once at its end;
-- the settlements are applied one after the other to the values in memory (each clamped at
-- 0 as it goes), which is what k separate calls give: the same rid twice in one call is
-- settled, then absent.
--
-- Writes come after every settlement is computed (the 'a' markers, SET NX, excepted): the
-- audit records (XADD, in order), per scope one HSET, per bucket one HDEL and one HSET of the
-- markers. So the first write is denyoom (SET, XADD or HSET) and a full Redis refuses the
-- whole call before anything changed; only a call whose sole writes are HDELs (reaped
-- entries, no audit record) runs on a full Redis, and it frees memory.

local t = redis.call('TIME')
local now = tonumber(t[1])
local fmt = string.format
local mm = fmt('%d', math.floor(now / 60))
local up = fmt('%d', now * 1000 + math.floor(tonumber(t[2]) / 1000))
local keep = tonumber(ARGV[1])
local spend_keep = tonumber(ARGV[2])
local minid = keep > 0 and fmt('%d', now * 1000 - keep) or nil

local records = {}
local function audit(kind, payload)
  if kind ~= '' then
    records[#records + 1] = kind
    records[#records + 1] = payload
  end
end

local watermark = false
local function below_watermark(sec)
  if watermark == false then watermark = tonumber(redis.call('GET', KEYS[1]) or '') end
  return watermark ~= nil and sec < watermark
end

-- The entries of every bucket named, one HMGET per bucket.
local buckets, border = {}, {}
local i = 3
while i <= #ARGV do
  if ARGV[i + 3] ~= 'a' then
    local k = ARGV[i + 2]
    local b = buckets[k]
    if not b then
      b = {rids = {}, val = {}, del = {}, mark = {}}
      buckets[k] = b
      border[#border + 1] = k
    end
    b.rids[#b.rids + 1] = ARGV[i]
  end
  i = i + 15 + tonumber(ARGV[i + 14])
end
for _, k in ipairs(border) do
  local b = buckets[k]
  local v = redis.call('HMGET', KEYS[tonumber(k)], unpack(b.rids))
  for j, rid in ipairs(b.rids) do b.val[rid] = v[j] end
end

local scopes, sorder = {}, {}
local function scope_of(key)
  local c = scopes[key]
  if not c then
    local v = redis.call('HMGET', key, 'm', 'rq', 'tk', 'st', 'rt', 'su', 'ru')
    c = {v[1], tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0,
         tonumber(v[5]) or 0, tonumber(v[6]) or 0, tonumber(v[7]) or 0,
         false, false, false}  -- 8..10: counters, tokens, uUSD changed
    scopes[key] = c
    sorder[#sorder + 1] = key
  end
  return c
end

-- One metric of a live reservation on scope c: the reserved amount (entry field, '-' for no
-- line) leaves c[reserved] (clamped at 0); a commit adds the actual amount (-1: as reserved) to
-- c[spent]; c[changed] marks the field for the write at the end.
local function release(c, reserved, actual, commit, spent_at, reserved_at, changed_at)
  if reserved == '-' then return end
  local r = tonumber(reserved)
  local left = c[reserved_at] - r
  c[reserved_at], c[changed_at] = left > 0 and left or 0, true
  if commit then c[spent_at] = c[spent_at] + (actual == '-1' and r or tonumber(actual)) end
end

-- The spend of the settlements that write their record, summed per bucket and row: one HMGET
-- and one HSET per bucket at the end.
local spend, sorder2 = {}, {}
local function count(i)
  local dims = ARGV[i + 12]
  if dims == '' then return end
  local a = {}
  for w in string.gmatch(ARGV[i + 13], '%S+') do a[#a + 1] = tonumber(w) or 0 end
  for _, k in ipairs({ARGV[i + 10], ARGV[i + 11]}) do
    local b = spend[k]
    if not b then
      b = {rows = {}, order = {}}
      spend[k] = b
      sorder2[#sorder2 + 1] = k
    end
    local row = b.rows[dims]
    if not row then
      row = {0, 0, 0, 0, 0}
      b.rows[dims] = row
      b.order[#b.order + 1] = dims
    end
    row[1] = row[1] + 1
    for j = 1, 4 do row[j + 1] = row[j + 1] + (a[j] or 0) end
  end
end

local out = {}
i = 3
while i <= #ARGV do
  local rid, flag = ARGV[i], ARGV[i + 3]
  local kind, payload = ARGV[i + 8], ARGV[i + 9]
  local n = tonumber(ARGV[i + 14])
  local s = i + 15
  if flag == 'a' then
    local key = KEYS[tonumber(ARGV[i + 2])]
    if key and not redis.call('SET', key, '1', 'NX', 'EX', 300) then
      out[#out + 1] = 4
    else
      audit(kind, payload)
      count(i)
      out[#out + 1] = 3
    end
  else
    local b = buckets[ARGV[i + 2]]
    local v = b.val[rid]
    if v and v ~= 'r' and v ~= 'x' then
      local f, last = {}, 2 * n + 1  -- the minute and the amounts; the names are reap's
      for w in string.gmatch(v, '%S+') do
        f[#f + 1] = w
        if #f == last then break end
      end
      local refund, delta = ARGV[i + 6], ARGV[i + 7]
      local correct = f[1] == mm and (refund ~= '0' or delta ~= '0')
      refund, delta = tonumber(refund), tonumber(delta)
      local commit = flag == 'c'
      local at, au = ARGV[i + 4], ARGV[i + 5]
      audit(kind, payload)
      for j = 1, n do
        local ta, ua = f[2 * j], f[2 * j + 1]
        -- a scope skipped by its window ('~', a budget period's other ledger) is not this
        -- request's; one with nothing to settle (no line, no correction) is not read either
        if ta ~= '~' and (correct or ta ~= '-' or ua ~= '-') then
          local c = scope_of(KEYS[tonumber(ARGV[s + j - 1])])
          if correct and c[1] == mm then
            local rq, tk = c[2] - refund, c[3] + delta
            c[2], c[3], c[8] = rq > 0 and rq or 0, tk > 0 and tk or 0, true
          end
          release(c, ta, at, commit, 4, 5, 9)
          release(c, ua, au, commit, 6, 7, 10)
        end
      end
      b.val[rid] = false
      b.del[#b.del + 1] = rid
      count(i)
      out[#out + 1] = 0
    elseif v == 'r' or (not v and below_watermark(tonumber(ARGV[i + 1]))) then
      audit(kind, payload)
      count(i)
      if v then
        b.val[rid] = false
        b.del[#b.del + 1] = rid
      end
      out[#out + 1] = 1
    else
      if not v then
        b.val[rid] = 'x'
        b.mark[#b.mark + 1] = rid
        b.mark[#b.mark + 1] = 'x'
      end
      out[#out + 1] = 2
    end
  end
  i = s + n
end

for r = 1, #records, 2 do
  if minid then
    redis.call('XADD', KEYS[2], 'MINID', '~', minid, '*', 'kind', records[r],
               'payload', records[r + 1])
    minid = nil  -- trimming once per call is enough
  else
    redis.call('XADD', KEYS[2], '*', 'kind', records[r], 'payload', records[r + 1])
  end
end
-- Appends two fields and their integer values to an HSET command.
local function put(a, f1, v1, f2, v2)
  a[#a + 1], a[#a + 2], a[#a + 3], a[#a + 4] = f1, fmt('%d', v1), f2, fmt('%d', v2)
end
for _, key in ipairs(sorder) do
  local c = scopes[key]
  if c[8] or c[9] or c[10] then  -- a scope read but left as it was is not written
    local a = {'HSET', key, 'up', up}
    if c[8] then put(a, 'rq', c[2], 'tk', c[3]) end
    if c[9] then put(a, 'rt', c[5], 'st', c[4]) end
    if c[10] then put(a, 'ru', c[7], 'su', c[6]) end
    redis.call(unpack(a))
  end
end
for _, k in ipairs(sorder2) do
  local b, key = spend[k], KEYS[tonumber(k)]
  local v = redis.call('HMGET', key, unpack(b.order))
  local a = {'HSET', key}
  for j, dims in ipairs(b.order) do
    local row, w = b.rows[dims], 0
    for x in string.gmatch(v[j] or '', '%S+') do
      w = w + 1
      if w <= 5 then row[w] = row[w] + (tonumber(x) or 0) end
    end
    a[#a + 1] = dims
    a[#a + 1] = fmt('%d %d %d %d %d', row[1], row[2], row[3], row[4], row[5])
  end
  redis.call(unpack(a))
  redis.call('EXPIRE', key, spend_keep + 86400)
end
for _, k in ipairs(border) do
  local b = buckets[k]
  if #b.del > 0 then redis.call('HDEL', KEYS[tonumber(k)], unpack(b.del)) end
  if #b.mark > 0 then redis.call('HSET', KEYS[tonumber(k)], unpack(b.mark)) end
end
return out
