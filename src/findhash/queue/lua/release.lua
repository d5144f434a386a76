-- release: a worker hands a chunk back at once (it is stopping), so that the
-- next claim takes it up without waiting for the lease to expire. It counts
-- as a failed attempt, like an expiry.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   processing, results, failed, poison, leases, lease_expiry, returned, spaces,
--   space_state, active, targets, target, finished, outstanding, cycling,
--   closing, cohort, members, stats, changes.
-- ARGV[1] lease token
-- ARGV[2] now (ms since the epoch), or "" for the server's clock
-- ARGV[3] failed attempts after which a chunk is set aside (count)
-- Returns {code, poison record | nil}: 0 the token names no lease (nothing
--   done), 1 handed back (or dropped, its space having nothing left to find),
--   2 set aside as poison.
--@include _keys.lua
--@include _decimal.lua
--@include _common.lua
--@include _targets.lua
--@include _chunks.lua

local token, now, max_attempts = ARGV[1], now_ms(ARGV[2]), tonumber(ARGV[3])
local text = redis.call('HGET', K.leases, token)
if not text then
  return {0, false}
end
redis.call('HDEL', K.leases, token)
redis.call('ZREM', K.lease_expiry, token)
local record = lose_chunk(cjson.decode(text), now, max_attempts)
if record then
  return {2, record}
end
return {1, false}
