--[[
  Compare-and-set of a mailstore's policy state, with everything stored alongside it: the audit
  entry, the held interval or guard episode it ends or begins, and the maintenance window it starts.

  KEYS[1] the store's state (string, JSON)
  KEYS[2] the store's audit trail (stream)
  KEYS[3] the store's held intervals (list, JSON)
  KEYS[4] the store's guard episodes (list, JSON)
  KEYS[5] the store's recipient outcomes, the 5xx guard's window (hash)
  KEYS[6] the store's maintenance windows (sorted set)

  ARGV[1]  the state as read (the version compared; empty: none stored)
  ARGV[2]  the new state (JSON)
  ARGV[3]  the audit entry (JSON)
  ARGV[4]  a held interval that ends (JSON; empty: none)
  ARGV[5]  a guard episode that starts (JSON; empty: none)
  ARGV[6]  the guard episode that ends, with the operator's verdict (JSON; empty: none)
  ARGV[7]  how many intervals and episodes are kept
  ARGV[8]  the audit trail's approximate length cap
  ARGV[9]  the maintenance window this hold starts, as waiting (member; empty: none)
  ARGV[10] the same window marked started (member)
  ARGV[11] the window's score (its start time)

  Returns 1 when applied, 0 when the state (or the window) changed meanwhile.
]]
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
-- a maintenance window's hold: only while the window waits (not cancelled, not started by another node)
if ARGV[9] ~= '' and not redis.call('ZSCORE', KEYS[6], ARGV[9]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[9] ~= '' then
  redis.call('ZREM', KEYS[6], ARGV[9])
  redis.call('ZADD', KEYS[6], ARGV[11], ARGV[10])
end
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[7]), -1)
end
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[5])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[7]), -1)
end
if ARGV[6] ~= '' then
  if redis.call('LLEN', KEYS[4]) > 0 then redis.call('LSET', KEYS[4], -1, ARGV[6]) end
  -- the operator has judged that burst: the next guard counts from zero
  redis.call('DEL', KEYS[5])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'entry', ARGV[3])
return 1
