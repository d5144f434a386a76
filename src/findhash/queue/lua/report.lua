-- report: what a worker found in a chunk. Hits are recorded whether or not the
-- lease is still held (an answer is an answer); the chunk is finished only
-- when the token still names a live lease.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   processing, results, failed, leases, lease_expiry, space_state, active,
--   targets, target, finished, outstanding, cycling, closing, cohort, members,
--   stats, changes.
-- ARGV[1] lease token
-- ARGV[2] space id of the lease
-- ARGV[3] candidates hashed in the chunk (decimal text)
-- ARGV[4] now (ms since the epoch), or "" for the server's clock
-- ARGV[5] JSON [{prefix, offset: decimal text, body: JSON text}], one per hit;
--         offset is the hit's index minus the chunk's start, plus one
-- Returns {1 if the chunk was finished, 0 if the token was stale; items solved}
--@include _keys.lua
--@include _decimal.lua
--@include _common.lua
--@include _targets.lua

local token, sid, hashed, now = ARGV[1], ARGV[2], ARGV[3], now_ms(ARGV[4])
local lease_text = redis.call('HGET', K.leases, token)
local chunk = lease_text and cjson.decode(lease_text)
if chunk and chunk.sid ~= sid then
  return redis.error_reply('report: lease ' .. token .. ' is for space ' .. chunk.sid)
end

local solved = 0
for _, hit in ipairs(cjson.decode(ARGV[5])) do
  solved = solved + solve_target(sid, hit.prefix, hit.body, hit.offset, now)
end
redis.call('HSET', K.stats, 'hashes', dec_add(redis.call('HGET', K.stats, 'hashes') or '0', hashed))
if not chunk then
  return {0, solved}
end

redis.call('HDEL', K.leases, token)
redis.call('ZREM', K.lease_expiry, token)
space_set(sid, 'hashed', dec_add(space_get(sid, 'hashed'), hashed))
redis.call('HINCRBY', K.stats, 'reports', 1)
if chunk.oid ~= '' then
  redis.call('ZREM', K.outstanding, chunk.oid)
  close_cohorts(sid, now)
end
return {1, solved}
