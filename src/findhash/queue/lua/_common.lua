-- Small helpers every script shares.

-- Time comes from the caller only in tests; otherwise from the server's clock,
-- never from a worker's. Effects replication (the default since Redis 5) makes
-- writes after TIME safe.
local function now_ms(arg)
  if arg ~= nil and arg ~= '' then
    return tonumber(arg)
  end
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function int_text(n)
  return string.format('%.0f', n)
end

-- Chunk sequence numbers, padded so that lexical order is numeric order.
local function pad(seq)
  return string.format('%015d', seq)
end

-- Puts `fields` (JSON members, without braces) in front of a JSON object's own.
local function splice(object_text, fields)
  return '{' .. fields .. ',' .. string.sub(object_text, 2)
end

-- The first member of a lexically ordered zset that belongs to space `sid`.
local function first_member(key, sid)
  return redis.call('ZRANGEBYLEX', key, '[' .. sid .. ':', '(' .. sid .. ';', 'LIMIT', 0, 1)[1]
end

local function all_members(key, sid)
  return redis.call('ZRANGEBYLEX', key, '[' .. sid .. ':', '(' .. sid .. ';')
end

local function space_get(sid, name)
  return redis.call('HGET', K.space_state, sid .. ':' .. name)
end

local function space_set(sid, name, value)
  redis.call('HSET', K.space_state, sid .. ':' .. name, value)
end

local function has_targets(sid)
  return first_member(K.targets, sid) ~= nil
end

-- Every change to a space's open prefixes bumps its version and is logged, so
-- that a client holding a recent version is sent the changes, not all prefixes.
local CHANGE_LOG = 1000

local function note_change(sid, change)
  local version = redis.call('HINCRBY', K.space_state, sid .. ':version', 1)
  redis.call('HSET', K.changes, sid .. ':' .. int_text(version), change)
  if version > CHANGE_LOG then
    redis.call('HDEL', K.changes, sid .. ':' .. int_text(version - CHANGE_LOG))
  end
end

-- The changes from version `seen` to `version`, or nil when the log lacks some.
local function changes_since(sid, seen, version)
  if version - seen > CHANGE_LOG then
    return nil
  end
  local fields = {}
  for v = seen + 1, version do
    fields[#fields + 1] = sid .. ':' .. int_text(v)
  end
  local changes = redis.call('HMGET', K.changes, unpack(fields))
  for _, change in ipairs(changes) do
    if not change then
      return nil
    end
  end
  return changes
end
