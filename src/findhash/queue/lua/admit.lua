-- admit: the verdicts on an intake's items, as the caller's validation gave them,
-- then a lease for the caller (the second half of a claim that took an intake).
-- Valid items open their prefix in its space (or are answered at once when the
-- prefix was already solved or proved absent there); invalid ones get a failed
-- record. Either way nothing is left in the intake.
--
-- KEYS: the queue's key set, in the order of _keys.lua; its code, includes and all,
--   names these of them:
--   processing, results, failed, poison, intake, intake_deadlines, leases,
--   lease_expiry, returned, spaces, space_state, active, targets, target,
--   finished, outstanding, cycling, closing, cohort, members, stats, changes.
-- ARGV[1] intake token (from claim)
-- ARGV[2] now (ms since the epoch), or "" for the server's clock
-- ARGV[3] JSON {spaces: {sid: {params: JSON text, size: decimal text | ""}},
--               items: [{sid, prefix, stub: JSON text} | {record: JSON text}]}
--         with one verdict per intake item, in the intake's order
-- ARGV[4] worker id (text, kept in the lease for operators)
-- ARGV[5] most indices to lease (count)
-- ARGV[6] lease time to live (ms)
-- ARGV[7] token for the new lease (random text from the caller)
-- ARGV[8] JSON {space id: prefix-set version} the caller already holds
-- Returns {opened, failed, answered, lease | nil}: items that opened or joined
--   a prefix, got a failed record, got a record from an earlier outcome;
--   opened is -1 when the intake is unknown (its deadline passed and another
--   claim took it over), and the lease is still given. The lease is as
--   _chunks.lua's describe_lease gives it.
--@include _keys.lua
--@include _decimal.lua
--@include _common.lua
--@include _targets.lua
--@include _chunks.lua

local function ensure_space(sid, info)
  if redis.call('HSETNX', K.spaces, sid, info.params) == 1 then
    redis.call('HSET', K.space_state, sid .. ':cursor', '0', sid .. ':cut', '0',
      sid .. ':seq', 0, sid .. ':hashed', '0', sid .. ':version', 0, sid .. ':size', info.size)
  end
end

-- Joins the cohort of prefixes opened before the space's next chunk is cut.
local function join_cohort(sid, prefix, size)
  local seq = tonumber(space_get(sid, 'seq'))
  local name = sid .. ':' .. pad(seq)
  if redis.call('HEXISTS', K.cohort, name) == 0 then
    local due = dec_add(space_get(sid, 'cut'), size)
    redis.call('HSET', K.cohort, name, cjson.encode({due = due, poisoned = false}))
    redis.call('ZADD', K.cycling, 0, name)
  end
  redis.call('ZADD', K.members, 0, name .. ':' .. prefix)
  return seq
end

local function open_target(sid, prefix, info)
  ensure_space(sid, info)
  local target = {items = {}}
  if info.size ~= '' then
    target.cohort = join_cohort(sid, prefix, info.size)
  end
  redis.call('ZADD', K.targets, 0, sid .. ':' .. prefix)
  note_change(sid, '+' .. prefix)
  redis.call('ZADD', K.active, 'NX', 0, sid)
  return target
end

local function answer_from_outcome(outcome_text, item, stub, now)
  local outcome = cjson.decode(outcome_text)
  if outcome.kind == 'solved' then
    local fields = '"item":' .. cjson.encode(item) .. ',"tries":0,"cached":true,"solved_at":'
      .. int_text(now)
    redis.call('RPUSH', K.results, splice(outcome.body, fields))
  else
    redis.call('RPUSH', K.failed, splice(stub, failure_fields(outcome.kind, outcome.reason, now)))
  end
end

-- Adds the item to its prefix's waiting list (opening the prefix if need be);
-- `changed` collects the targets to write back once, after the whole batch.
local function join_target(item, verdict, spaces, changed)
  local sid, member = verdict.sid, verdict.sid .. ':' .. verdict.prefix
  local target = changed[member]
  if not target then
    local text = redis.call('HGET', K.target, member)
    target = text and cjson.decode(text) or open_target(sid, verdict.prefix, spaces[sid])
    changed[member] = target
  end
  local entry = {item = item, stub = verdict.stub, h0 = space_get(sid, 'hashed')}
  target.items[#target.items + 1] = entry
end

local function admit(items, verdicts, now)
  local done, changed = {}, {}
  local counts = {0, 0, 0}
  for i, item in ipairs(items) do
    local verdict = verdicts.items[i]
    local outcome = verdict.sid
      and redis.call('HGET', K.finished, verdict.sid .. ':' .. verdict.prefix)
    if verdict.record then
      redis.call('RPUSH', K.failed, splice(verdict.record, '"failed_at":' .. int_text(now)))
      done[#done + 1] = item
      counts[2] = counts[2] + 1
    elseif outcome then
      answer_from_outcome(outcome, item, verdict.stub, now)
      done[#done + 1] = item
      counts[3] = counts[3] + 1
    else
      join_target(item, verdict, verdicts.spaces, changed)
      counts[1] = counts[1] + 1
    end
  end
  for member, target in pairs(changed) do
    redis.call('HSET', K.target, member, cjson.encode(target))
  end
  remove_processing(done)
  return counts
end

local token, now = ARGV[1], now_ms(ARGV[2])
local verdicts = cjson.decode(ARGV[3])
local counts = {-1, 0, 0}
local packed = redis.call('HGET', K.intake, token)
if packed then
  local items = cmsgpack.unpack(packed)
  if #verdicts.items ~= #items then
    return redis.error_reply('admit: ' .. #verdicts.items .. ' verdicts for ' .. #items .. ' items')
  end
  redis.call('HDEL', K.intake, token)
  redis.call('ZREM', K.intake_deadlines, token)
  counts = admit(items, verdicts, now)
end
local lease = lease_next(ARGV[4], tonumber(ARGV[5]), ARGV[7], now + tonumber(ARGV[6]),
  cjson.decode(ARGV[8]))
return {counts[1], counts[2], counts[3], lease}
