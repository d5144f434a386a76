-- claim: one step of a worker asking for work.
--   1. Ends expired leases (handing their chunks back, or setting them aside).
--   2. Takes a batch of items to validate: an intake whose deadline passed (its
--      claimer died before admitting it), else up to ARGV[7] pending items,
--      moved to processing. If it took any, it stops there: the caller
--      validates them and calls admit, which opens them and then leases, so
--      that the chunk is checked against them too.
--   3. Otherwise leases a chunk: one handed back if any, else a new range of a
--      space with open prefixes, taking turns between spaces.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   pending, processing, results, failed, poison, intake, intake_deadlines,
--   leases, lease_expiry, returned, spaces, space_state, active, targets,
--   target, finished, outstanding, cycling, closing, cohort, members, stats,
--   changes.
-- ARGV[1]  worker id (text, kept in the lease for operators)
-- ARGV[2]  most indices to lease (count)
-- ARGV[3]  now (ms since the epoch), or "" for the server's clock
-- ARGV[4]  lease and intake time to live (ms)
-- ARGV[5]  token for the new lease (random text from the caller)
-- ARGV[6]  token for a new intake (random text from the caller)
-- ARGV[7]  most pending items to take for validation (count)
-- ARGV[8]  failed attempts after which a chunk is set aside (count)
-- ARGV[9]  JSON {space id: prefix-set version} the caller already holds
-- ARGV[10] most expired leases to end in this call (count)
-- Returns {intake token | nil, {raw items}, lease | nil, {poison records}},
--   with either an intake or a lease (or neither), never both; the lease as
--   _chunks.lua's describe_lease gives it.
--@include _keys.lua
--@include _decimal.lua
--@include _common.lua
--@include _targets.lua
--@include _chunks.lua

local function take_intake(now, expires, token, batch)
  local stale = redis.call('ZRANGEBYSCORE', K.intake_deadlines, '-inf', now, 'LIMIT', 0, 1)[1]
  local items
  if stale then
    items = cmsgpack.unpack(redis.call('HGET', K.intake, stale))
    redis.call('HDEL', K.intake, stale)
    redis.call('ZREM', K.intake_deadlines, stale)
  else
    items = redis.call('LPOP', K.pending, batch)
    if not items then
      return nil
    end
    redis.call('RPUSH', K.processing, unpack(items))
  end
  -- Raw bytes, valid UTF-8 or not, survive msgpack unchanged; JSON would not.
  redis.call('HSET', K.intake, token, cmsgpack.pack(items))
  redis.call('ZADD', K.intake_deadlines, expires, token)
  return items
end

local worker, max_count, now = ARGV[1], tonumber(ARGV[2]), now_ms(ARGV[3])
local expires = now + tonumber(ARGV[4])
local max_attempts = tonumber(ARGV[8])

local poisoned = reap_leases(now, max_attempts, tonumber(ARGV[10]))
redis.call('HINCRBY', K.stats, 'claims', 1)
local items = take_intake(now, expires, ARGV[6], tonumber(ARGV[7]))
if items then
  return {ARGV[6], items, false, poisoned}
end
local lease = lease_next(worker, max_count, ARGV[5], expires, cjson.decode(ARGV[9]))
return {false, {}, lease, poisoned}
