--[[
  Adds a maintenance window only if the store's set of windows is still the one its overlap was
  checked against, and audits it.

  KEYS[1] the store's windows (sorted set)
  KEYS[2] the store's audit trail (stream)

  ARGV[1] the windows' members as read for the check, joined by newlines
  ARGV[2] the new window's score (its start time)
  ARGV[3] the new window's member
  ARGV[4] the audit entry (JSON)
  ARGV[5] the audit trail's approximate length cap

  Returns 1 when added, 0 when the set changed meanwhile.
]]
if table.concat(redis.call('ZRANGE', KEYS[1], 0, -1), '\n') ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'entry', ARGV[4])
return 1
