-- heartbeat: a worker says it is alive and how fast it hashes; workers silent
-- for longer than ARGV[4] are forgotten, a bounded number per call.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   space_state, targets, workers, workers_seen, changes.
-- ARGV[1] worker id
-- ARGV[2] JSON {hashes_per_second, threads}
-- ARGV[3] now (ms since the epoch), or "" for the server's clock
-- ARGV[4] silence after which a worker is forgotten (ms)
-- ARGV[5] most silent workers to forget in this call (count)
-- Returns the number of workers known after the call.
--@include _keys.lua
--@include _common.lua

local worker, now = ARGV[1], now_ms(ARGV[3])
redis.call('HSET', K.workers, worker, splice(ARGV[2], '"last_seen_ms":' .. int_text(now)))
redis.call('ZADD', K.workers_seen, now, worker)
local cutoff = now - tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
local silent = redis.call('ZRANGEBYSCORE', K.workers_seen, '-inf', '(' .. int_text(cutoff),
  'LIMIT', 0, limit)
for _, id in ipairs(silent) do
  redis.call('HDEL', K.workers, id)
  redis.call('ZREM', K.workers_seen, id)
end
return redis.call('ZCARD', K.workers_seen)
