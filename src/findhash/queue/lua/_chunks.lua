-- Chunks: ranges of candidate indices of one space, cut from its cursor, leased,
-- handed back, and set aside when they keep failing.
-- A chunk is JSON {sid, seq, start (decimal), count, attempts, oid, worker}; `oid`
-- names it in K.outstanding (finite spaces only, else empty).

local function forget_chunk(chunk)
  if chunk.oid ~= '' then
    redis.call('ZREM', K.outstanding, chunk.oid)
  end
end

local function set_aside(chunk, now)
  local fields = '"start":' .. chunk.start
  local record = splice(cjson.encode({
    space_id = chunk.sid,
    seq = chunk.seq,
    count = chunk.count,
    attempts = chunk.attempts,
    last_worker = chunk.worker or '',
    set_aside_at = now,
  }), fields)
  redis.call('RPUSH', K.poison, record)
  redis.call('HINCRBY', K.stats, 'poisoned', 1)
  if chunk.oid ~= '' then
    forget_chunk(chunk)
    mark_poisoned(chunk.sid, chunk.seq)
    close_cohorts(chunk.sid, now)
  end
  return record
end

-- A lease that ended without a report: hand the chunk back, or set it aside
-- once it has failed `max_attempts` times. Returns the poison record, if any.
local function lose_chunk(chunk, now, max_attempts)
  if not has_targets(chunk.sid) then
    forget_chunk(chunk)
    return nil
  end
  chunk.attempts = chunk.attempts + 1
  if chunk.attempts >= max_attempts then
    return set_aside(chunk, now)
  end
  redis.call('RPUSH', K.returned, cjson.encode(chunk))
  return nil
end

-- Orders chunks that expired together by expiry, then by position in the space,
-- so that they are handed back in the same order on every backend.
local function earlier(a, b)
  if a.expiry ~= b.expiry then
    return a.expiry < b.expiry
  end
  if a.sid ~= b.sid then
    return a.sid < b.sid
  end
  if a.seq ~= b.seq then
    return a.seq < b.seq
  end
  return dec_cmp(a.start, b.start) < 0
end

-- Ends every lease whose expiry has passed; at most `batch` per call.
local function reap_leases(now, max_attempts, batch)
  local expired = redis.call('ZRANGEBYSCORE', K.lease_expiry, '-inf', now, 'WITHSCORES',
    'LIMIT', 0, batch)
  local chunks = {}
  for i = 1, #expired, 2 do
    local token = expired[i]
    local text = redis.call('HGET', K.leases, token)
    redis.call('HDEL', K.leases, token)
    redis.call('ZREM', K.lease_expiry, token)
    if text then
      local chunk = cjson.decode(text)
      chunk.expiry = tonumber(expired[i + 1])
      chunks[#chunks + 1] = chunk
    end
  end
  table.sort(chunks, earlier)
  local poisoned = {}
  for _, chunk in ipairs(chunks) do
    chunk.expiry = nil
    local record = lose_chunk(chunk, now, max_attempts)
    if record then
      poisoned[#poisoned + 1] = record
    end
  end
  return poisoned
end

-- The oldest chunk handed back whose space still has something to find, cut to
-- `max_count` indices (the rest goes back to the front of the line).
local function next_returned(max_count)
  for _ = 1, 16 do
    local text = redis.call('LPOP', K.returned)
    if not text then
      return nil
    end
    local chunk = cjson.decode(text)
    if has_targets(chunk.sid) then
      if chunk.count > max_count then
        local rest = {
          sid = chunk.sid, seq = chunk.seq, attempts = chunk.attempts, oid = '',
          start = dec_add(chunk.start, int_text(max_count)),
          count = chunk.count - max_count, worker = chunk.worker,
        }
        if chunk.oid ~= '' then
          local piece = redis.call('HINCRBY', K.stats, 'pieces', 1)
          rest.oid = chunk.sid .. ':' .. pad(chunk.seq) .. ':' .. int_text(piece)
          redis.call('ZADD', K.outstanding, 0, rest.oid)
        end
        redis.call('LPUSH', K.returned, cjson.encode(rest))
        chunk.count = max_count
      end
      return chunk
    end
    forget_chunk(chunk)
  end
  return nil
end

-- Cohorts whose round the cut up to `cut` completes, ending with chunk `seq`.
local function end_rounds(sid, cut, seq)
  while true do
    local name = first_member(K.cycling, sid)
    if not name then
      return
    end
    local cohort = cjson.decode(redis.call('HGET', K.cohort, name))
    if dec_cmp(cut, cohort.due) < 0 then
      return
    end
    cohort.last = seq
    redis.call('HSET', K.cohort, name, cjson.encode(cohort))
    redis.call('ZREM', K.cycling, name)
    redis.call('ZADD', K.closing, 0, name)
  end
end

-- The next range from the space's cursor; a finite space wraps round to 0.
local function cut_chunk(sid, max_count)
  local fields = {sid .. ':cursor', sid .. ':cut', sid .. ':seq', sid .. ':size'}
  local state = redis.call('HMGET', K.space_state, unpack(fields))
  local cursor, cut, seq, size = state[1], state[2], tonumber(state[3]), state[4]
  local count = max_count
  if size ~= '' then
    local rest = dec_sub(size, cursor)
    if dec_cmp(rest, int_text(count)) < 0 then
      count = tonumber(rest)
    end
  end
  local next_cursor = dec_add(cursor, int_text(count))
  if next_cursor == size then
    next_cursor = '0'
  end
  cut = dec_add(cut, int_text(count))
  redis.call('HSET', K.space_state, fields[1], next_cursor, fields[2], cut, fields[3], seq + 1)
  local chunk = {sid = sid, seq = seq, start = cursor, count = count, attempts = 0, oid = ''}
  if size ~= '' then
    chunk.oid = sid .. ':' .. pad(seq) .. ':0'
    redis.call('ZADD', K.outstanding, 0, chunk.oid)
    end_rounds(sid, cut, seq)
  end
  return chunk
end

-- Takes turns between spaces with open prefixes. A finite space whose every
-- open prefix has had its full round cuts nothing new: it waits for its chunks.
local function next_new_chunk(max_count)
  for _, sid in ipairs(redis.call('ZRANGE', K.active, 0, 7)) do
    if not has_targets(sid) then
      retire_space(sid)
    else
      redis.call('ZADD', K.active, redis.call('HINCRBY', K.stats, 'turn', 1), sid)
      if space_get(sid, 'size') == '' or first_member(K.cycling, sid) then
        return cut_chunk(sid, max_count)
      end
    end
  end
  return nil
end

local function lease_chunk(chunk, token, worker, expires)
  chunk.worker = worker
  redis.call('HSET', K.leases, token, cjson.encode(chunk))
  redis.call('ZADD', K.lease_expiry, expires, token)
end

-- A lease as the caller receives it:
--   {token, space id, seq, start (decimal text), count, attempt, expires (ms),
--    version, parameters JSON | nil, {"<sid>:<prefix>"} | nil, {change} | nil}
-- `known` maps space ids to the prefix-set version the caller holds. Parameters
-- come only for a space the caller does not know. When the caller's version is
-- current neither list comes; when it is recent, only the changes since
-- ("+<prefix>" opened, "-<prefix>" closed, in order); else every open prefix.
local function describe_lease(chunk, token, expires, known)
  local sid = chunk.sid
  local version = tonumber(space_get(sid, 'version'))
  local seen = known[sid]
  local params, members, changes = false, false, false
  if seen == nil then
    params = redis.call('HGET', K.spaces, sid)
  elseif seen ~= version then
    changes = changes_since(sid, seen, version) or false
  end
  if seen ~= version and not changes then
    members = all_members(K.targets, sid)
  end
  return {token, sid, chunk.seq, chunk.start, chunk.count, chunk.attempts + 1,
    expires, version, params, members, changes}
end

-- Leases the next chunk: one handed back if any, else a new range.
local function lease_next(worker, max_count, token, expires, known)
  local chunk = next_returned(max_count) or next_new_chunk(max_count)
  if not chunk then
    return false
  end
  lease_chunk(chunk, token, worker, expires)
  return describe_lease(chunk, token, expires, known)
end
