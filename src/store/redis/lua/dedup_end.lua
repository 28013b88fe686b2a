-- dedup_end: a leader's later steps on its record (dedup_begin.lua), each only while its token
-- still holds the lease, so a leader whose lease expired and was taken over changes nothing.
-- Run by redis_dedup_store.cpp.
--
-- KEYS   1  P:proxy_request_idempotency:<record id>
-- ARGV   1  'refresh' | 'complete' | 'abandon'   2 the lease as held: 'L' .. fingerprint .. token
--        refresh:  3 lease ms
--        complete: 3 retention ms   4 the completed record: 'C' .. fingerprint .. answer
--
-- Reply  1 done, 0 the lease is not held (nothing changed)
if redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
if ARGV[1] == 'refresh' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[1] == 'complete' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
