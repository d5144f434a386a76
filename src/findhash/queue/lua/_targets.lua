-- Open prefixes ("targets"), the items waiting on them, and the records that end them.

-- Past this many removals one pass over the list beats one LREM scan per item.
local REBUILD_PROCESSING_AT = 32

local function remove_processing(items)
  if #items < REBUILD_PROCESSING_AT then
    for _, item in ipairs(items) do
      redis.call('LREM', K.processing, 1, item)
    end
    return
  end
  local remove = {}
  for _, item in ipairs(items) do
    remove[item] = (remove[item] or 0) + 1
  end
  local keep = {}
  for _, item in ipairs(redis.call('LRANGE', K.processing, 0, -1)) do
    local left = remove[item]
    if left ~= nil and left > 0 then
      remove[item] = left - 1
    else
      keep[#keep + 1] = item
    end
  end
  redis.call('DEL', K.processing)
  for first = 1, #keep, 1000 do
    redis.call('RPUSH', K.processing, unpack(keep, first, math.min(first + 999, #keep)))
  end
end

-- A space with no open prefix leaves the rotation; its cursor and counters stay,
-- so that a later item of the same space continues where the search stopped.
local function retire_space(sid)
  redis.call('ZREM', K.active, sid)
  for _, key in ipairs({K.cycling, K.closing}) do
    for _, name in ipairs(all_members(key, sid)) do
      redis.call('HDEL', K.cohort, name)
    end
    redis.call('ZREMRANGEBYLEX', key, '[' .. sid .. ':', '(' .. sid .. ';')
  end
  redis.call('ZREMRANGEBYLEX', K.members, '[' .. sid .. ':', '(' .. sid .. ';')
end

local function drop_target(sid, prefix)
  local member = sid .. ':' .. prefix
  redis.call('ZREM', K.targets, member)
  redis.call('HDEL', K.target, member)
  note_change(sid, '-' .. prefix)
  if not has_targets(sid) then
    retire_space(sid)
  end
end

-- Writes one result per waiting item and closes the prefix. `offset` is how far
-- into its chunk the hit lay, so `tries` counts the candidates hashed in the
-- space while the item was open: every chunk reported since, plus this one up
-- to the hit. Chunks still in flight elsewhere are not counted, so it is an
-- honest lower estimate rather than an exact figure.
local function solve_target(sid, prefix, body, offset, now)
  local member = sid .. ':' .. prefix
  local text = redis.call('HGET', K.target, member)
  if not text then
    return 0
  end
  local hashed = space_get(sid, 'hashed')
  local done = {}
  for _, entry in ipairs(cjson.decode(text).items) do
    local tries = dec_add(dec_sub(hashed, entry.h0), offset)
    local fields = '"item":' .. cjson.encode(entry.item) .. ',"tries":' .. tries
      .. ',"solved_at":' .. int_text(now)
    redis.call('RPUSH', K.results, splice(body, fields))
    done[#done + 1] = entry.item
  end
  remove_processing(done)
  redis.call('HSET', K.finished, member, cjson.encode({kind = 'solved', body = body}))
  drop_target(sid, prefix)
  return #done
end

local function failure_fields(kind, reason, now)
  return '"kind":' .. cjson.encode(kind) .. ',"reason":' .. cjson.encode(reason)
    .. ',"failed_at":' .. int_text(now)
end

local function fail_target(sid, prefix, kind, reason, now)
  local member = sid .. ':' .. prefix
  local done = {}
  for _, entry in ipairs(cjson.decode(redis.call('HGET', K.target, member)).items) do
    redis.call('RPUSH', K.failed, splice(entry.stub, failure_fields(kind, reason, now)))
    done[#done + 1] = entry.item
  end
  remove_processing(done)
  -- Exhaustion is a fact about the prefix and the space; poison is only bad luck.
  if kind == 'exhausted' then
    redis.call('HSET', K.finished, member, cjson.encode({kind = kind, reason = reason}))
  end
  drop_target(sid, prefix)
end

-- A cohort is the prefixes of a finite space opened while its next chunk was
-- `seq`. Once the cursor has gone once round the space after that (`last` is
-- the chunk that completed the round) and no chunk from seq to last is still in
-- flight, every index was scanned with those prefixes among the targets.
local function in_flight_between(sid, first_seq, last_seq)
  local low = '[' .. sid .. ':' .. pad(first_seq)
  local high = '(' .. sid .. ':' .. pad(last_seq + 1)
  return redis.call('ZRANGEBYLEX', K.outstanding, low, high, 'LIMIT', 0, 1)[1] ~= nil
end

local function close_cohort(sid, name, cohort, now)
  local seq = tonumber(string.sub(name, #sid + 2))
  local kind = 'exhausted'
  local reason = 'space exhausted after ' .. space_get(sid, 'size')
    .. ' candidates without finding the prefix'
  if cohort.poisoned then
    kind = 'poison'
    reason = 'poison: part of the space was set aside after repeated failed attempts,'
      .. ' so it cannot be searched completely'
  end
  local low, high = '[' .. name .. ':', '(' .. name .. ';'
  for _, member in ipairs(redis.call('ZRANGEBYLEX', K.members, low, high)) do
    local prefix = string.sub(member, #name + 2)
    local text = redis.call('HGET', K.target, sid .. ':' .. prefix)
    if text and cjson.decode(text).cohort == seq then
      fail_target(sid, prefix, kind, reason, now)
    end
  end
  redis.call('ZREMRANGEBYLEX', K.members, low, high)
  redis.call('ZREM', K.closing, name)
  redis.call('HDEL', K.cohort, name)
end

-- Bounded: a cohort left open here is looked at again after the next report.
local function close_cohorts(sid, now)
  for _ = 1, 8 do
    local name = first_member(K.closing, sid)
    if not name then
      return
    end
    local cohort = cjson.decode(redis.call('HGET', K.cohort, name))
    if in_flight_between(sid, tonumber(string.sub(name, #sid + 2)), cohort.last) then
      return
    end
    close_cohort(sid, name, cohort, now)
  end
end

-- A chunk set aside at `seq` leaves a hole in the round of every cohort that
-- needed it: those opened at or before it, whose round ends at or after it.
local function mark_poisoned(sid, seq)
  for _, key in ipairs({K.cycling, K.closing}) do
    local high = '[' .. sid .. ':' .. pad(seq)
    for _, name in ipairs(redis.call('ZRANGEBYLEX', key, '[' .. sid .. ':', high)) do
      local cohort = cjson.decode(redis.call('HGET', K.cohort, name))
      if cohort.last == nil or cohort.last >= seq then
        cohort.poisoned = true
        redis.call('HSET', K.cohort, name, cjson.encode(cohort))
      end
    end
  end
end
