--[[
  Removes maintenance windows by exact member, auditing each one removed.

  KEYS[1] the store's windows (sorted set)
  KEYS[2] the store's audit trail (stream)

  ARGV[1] the audit trail's approximate length cap
  ARGV[2], ARGV[3], ... pairs: a window's member, then its audit entry (JSON; empty: none)

  Returns 1 or 0 per member: removed, or not there.
]]
local removed = {}
for index = 2, #ARGV, 2 do
  local gone = redis.call('ZREM', KEYS[1], ARGV[index])
  if gone == 1 and ARGV[index + 1] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'entry', ARGV[index + 1])
  end
  removed[#removed + 1] = gone
end
return removed
