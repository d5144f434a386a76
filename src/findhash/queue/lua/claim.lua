-- claim: one step of a worker asking for work.
--   1. Ends expired leases (handing their chunks back, or setting them aside).
--   2. Takes a batch of items to validate: an intake whose deadline passed (its
--      claimer died before admitting it), else up to ARGV[7] pending items,
--      moved to processing. The caller validates them and calls admit.
--   3. Leases a chunk: one handed back if any, else a new range of a space
--      with open prefixes, taking turns between spaces.
--
-- KEYS: the queue's key set, in the order of _keys.lua. This script touches
--   pending, processing, intake, intake_deadlines, leases, lease_expiry,
--   returned, space_state, active, targets, target, finished, outstanding,
--   cycling, closing, cohort, members, results, failed, poison, spaces, stats.
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
-- Returns {intake token | nil, {raw items}, lease | nil, {poison records}}
--   lease = {token, space id, seq, start (decimal text), count, attempt,
--            expires (ms), version, parameters JSON | nil, {"<sid>:<prefix>"} | nil}
--   Parameters come only for a space the caller does not know; members only
--   when its version differs from the caller's.
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

local function describe(chunk, token, expires, known)
  local version = tonumber(space_get(chunk.sid, 'version'))
  local seen = known[chunk.sid]
  local params, members = false, false
  if seen ~= version then
    members = all_members(K.targets, chunk.sid)
  end
  if seen == nil then
    params = redis.call('HGET', K.spaces, chunk.sid)
  end
  return {token, chunk.sid, chunk.seq, chunk.start, chunk.count, chunk.attempts + 1,
    expires, version, params, members}
end

local worker, max_count, now = ARGV[1], tonumber(ARGV[2]), now_ms(ARGV[3])
local expires = now + tonumber(ARGV[4])
local max_attempts = tonumber(ARGV[8])

local poisoned = reap_leases(now, max_attempts, tonumber(ARGV[10]))
local items = take_intake(now, expires, ARGV[6], tonumber(ARGV[7]))
local chunk = next_returned(max_count) or next_new_chunk(max_count)
local lease = false
if chunk then
  lease_chunk(chunk, ARGV[5], worker, expires)
  lease = describe(chunk, ARGV[5], expires, cjson.decode(ARGV[9]))
end
redis.call('HINCRBY', K.stats, 'claims', 1)
return {items and ARGV[6] or false, items or {}, lease, poisoned}
