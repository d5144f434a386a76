-- The queue's keys, passed to every script in this order (redis_scripts.KEY_SUFFIXES).
-- Per-space and per-prefix state lives in fields and members named "<space id>:...",
-- so that no script ever touches a key it was not given.
local K = {
  pending = KEYS[1],           -- list: items exactly as pushed
  processing = KEYS[2],        -- list: raw items being searched
  results = KEYS[3],           -- list: JSON record per solved item
  failed = KEYS[4],            -- list: JSON record per item that cannot be solved
  poison = KEYS[5],            -- list: JSON record per chunk set aside
  intake = KEYS[6],            -- hash: intake token -> msgpack array of raw items
  intake_deadlines = KEYS[7],  -- zset: intake token -> deadline (ms)
  leases = KEYS[8],            -- hash: lease token -> chunk JSON
  lease_expiry = KEYS[9],      -- zset: lease token -> expiry (ms)
  returned = KEYS[10],         -- list: chunk JSON handed back, leased again first
  spaces = KEYS[11],           -- hash: space id -> space parameters JSON
  space_state = KEYS[12],      -- hash: "<sid>:cursor|cut|seq|hashed|version|size" -> value
  active = KEYS[13],           -- zset: space id -> turn (spaces with open prefixes)
  targets = KEYS[14],          -- zset (lex): "<sid>:<prefix>" open prefixes
  target = KEYS[15],           -- hash: "<sid>:<prefix>" -> JSON {cohort, items}
  finished = KEYS[16],         -- hash: "<sid>:<prefix>" -> JSON outcome, for late duplicates
  outstanding = KEYS[17],      -- zset (lex): "<sid>:<seq>:<piece>" chunks of finite spaces
  cycling = KEYS[18],          -- zset (lex): "<sid>:<seq>" cohorts not yet swept once
  closing = KEYS[19],          -- zset (lex): "<sid>:<seq>" cohorts swept, chunks in flight
  cohort = KEYS[20],           -- hash: "<sid>:<seq>" -> JSON {due, last, poisoned}
  members = KEYS[21],          -- zset (lex): "<sid>:<seq>:<prefix>" prefixes of a cohort
  workers = KEYS[22],          -- hash: worker id -> heartbeat JSON
  workers_seen = KEYS[23],     -- zset: worker id -> last heartbeat (ms)
  stats = KEYS[24],            -- hash: hashes, claims, reports, poisoned, turn, pieces
  changes = KEYS[25],          -- hash: "<sid>:<version>" -> "+<prefix>" or "-<prefix>"
}
