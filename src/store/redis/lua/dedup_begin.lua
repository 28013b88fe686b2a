-- dedup_begin: the first step of a request that carries an x-request-id (docs/proxy.md,
-- "Retries with x-request-id"; docs/redis.md). Run by redis_dedup_store.cpp.
--
-- KEYS   1  P:proxy_request_idempotency:<record id>
-- ARGV   1  the request's fingerprint (64 hex digits)   2 the leader token   3 lease ms
--
-- The record is 'L' .. fingerprint .. token while a leader holds the lease (PX lease), then
-- 'C' .. fingerprint .. answer once complete (PX retention). Anything else is not ours and is
-- taken over, as an absent record is.
--
-- Reply  {1}          acquired: this request leads
--        {2}          conflict: the id was used with another fingerprint
--        {3, answer}  completed: replay the answer
--        {4}          in flight: another request leads
local v = redis.call('GET', KEYS[1])
if v and #v >= 65 then
  local state = string.sub(v, 1, 1)
  if state == 'L' or state == 'C' then
    if string.sub(v, 2, 65) ~= ARGV[1] then
      return {2}
    end
    if state == 'C' then
      return {3, string.sub(v, 66)}
    end
    return {4}
  end
end
redis.call('SET', KEYS[1], 'L' .. ARGV[1] .. ARGV[2], 'PX', ARGV[3])
return {1}
