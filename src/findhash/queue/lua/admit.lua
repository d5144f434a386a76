-- admit: the verdicts on an intake's items, as the caller's validation gave them.
-- Valid items open their prefix in its space (or are answered at once when the
-- prefix was already solved or proved absent there); invalid ones get a failed
-- record. Either way nothing is left in the intake.
--
-- KEYS: the queue's key set, in the order of _keys.lua. This script touches
--   processing, results, failed, intake, intake_deadlines, spaces, space_state,
--   active, targets, target, finished, cycling, cohort, members.
-- ARGV[1] intake token (from claim)
-- ARGV[2] now (ms since the epoch), or "" for the server's clock
-- ARGV[3] JSON {spaces: {sid: {params: JSON text, size: decimal text | ""}},
--               items: [{sid, prefix, stub: JSON text} | {record: JSON text}]}
--         with one verdict per intake item, in the intake's order
-- Returns {opened, failed, answered}: items that opened or joined a prefix, got
--   a failed record, got a record from an earlier outcome; {-1, 0, 0} when the
--   intake is unknown (its deadline passed and another claim took it over).
--@include _keys.lua
--@include _decimal.lua
--@include _common.lua
--@include _targets.lua

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
  redis.call('HINCRBY', K.space_state, sid .. ':version', 1)
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

local token, now = ARGV[1], now_ms(ARGV[2])
local verdicts = cjson.decode(ARGV[3])
local packed = redis.call('HGET', K.intake, token)
if not packed then
  return {-1, 0, 0}
end
local items = cmsgpack.unpack(packed)
if #verdicts.items ~= #items then
  return redis.error_reply('admit: ' .. #verdicts.items .. ' verdicts for ' .. #items .. ' items')
end
redis.call('HDEL', K.intake, token)
redis.call('ZREM', K.intake_deadlines, token)

local done, changed = {}, {}
local opened, failed, answered = 0, 0, 0
for i, item in ipairs(items) do
  local verdict = verdicts.items[i]
  if verdict.record then
    redis.call('RPUSH', K.failed, splice(verdict.record, '"failed_at":' .. int_text(now)))
    done[#done + 1] = item
    failed = failed + 1
  else
    local sid, member = verdict.sid, verdict.sid .. ':' .. verdict.prefix
    local outcome = redis.call('HGET', K.finished, member)
    if outcome then
      answer_from_outcome(outcome, item, verdict.stub, now)
      done[#done + 1] = item
      answered = answered + 1
    else
      local target = changed[member]
      if not target then
        local text = redis.call('HGET', K.target, member)
        target = text and cjson.decode(text)
          or open_target(sid, verdict.prefix, verdicts.spaces[sid])
        changed[member] = target
      end
      target.items[#target.items + 1] = {item = item, stub = verdict.stub, h0 = space_get(sid, 'hashed')}
      opened = opened + 1
    end
  end
end
for member, target in pairs(changed) do
  redis.call('HSET', K.target, member, cjson.encode(target))
end
remove_processing(done)
return {opened, failed, answered}
