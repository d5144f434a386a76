-- renew: extends a live lease. A lease whose space has no open prefix left is
-- ended instead, so that its worker stops scanning for nothing.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   leases, lease_expiry, space_state, targets, outstanding, changes.
-- ARGV[1] lease token
-- ARGV[2] now (ms since the epoch), or "" for the server's clock
-- ARGV[3] lease time to live (ms)
-- Returns 1 renewed; 0 the token names no lease (it expired and was taken
--   back, or was finished); -1 ended because nothing is left to find.
--@include _keys.lua
--@include _common.lua

local token, now, ttl = ARGV[1], now_ms(ARGV[2]), tonumber(ARGV[3])
local text = redis.call('HGET', K.leases, token)
if not text then
  return 0
end
local chunk = cjson.decode(text)
if not has_targets(chunk.sid) then
  redis.call('HDEL', K.leases, token)
  redis.call('ZREM', K.lease_expiry, token)
  if chunk.oid ~= '' then
    redis.call('ZREM', K.outstanding, chunk.oid)
  end
  return -1
end
redis.call('ZADD', K.lease_expiry, now + ttl, token)
return 1
