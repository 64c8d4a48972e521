--[[
  Appends a message's events to its trace and, when asked, points its index entries (recipients,
  Message-ID) at it. Over the cap the oldest events go, except the first one (the reception), which
  says where the message came from. Each index entry keeps the time of the message's latest event
  written to it (never moved back); an index key is trimmed to its newest entries when asked (the
  writer asks now and then, so a key may pass its bound by a few entries between trims).

  KEYS[1]    the message's events (list)
  KEYS[2..N] index keys to point at the message (sorted sets, score = time)

  ARGV[1] the events cap
  ARGV[2] the retention in milliseconds (every key written expires that long after)
  ARGV[3] entries kept per index key
  ARGV[4] the queue id (the index member)
  ARGV[5] 1: trim the index keys to their bound now; 0: not this time
  ARGV[6 .. 5 + #KEYS - 1] per index key, in KEYS order, the time of its entry
  ARGV[5 + #KEYS ..] the events (JSON), oldest first

  Returns the events list's length.
]]
local cap, retention, keep, queue_id = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local trim = ARGV[5] == '1'
local indexes = #KEYS - 1
local length = redis.call('RPUSH', KEYS[1], unpack(ARGV, 6 + indexes))
if length > cap then
  local first = redis.call('LINDEX', KEYS[1], 0)
  redis.call('LTRIM', KEYS[1], 1 - cap, -1)
  redis.call('LPUSH', KEYS[1], first)
end
redis.call('PEXPIRE', KEYS[1], retention)
for index = 1, indexes do
  local key = KEYS[index + 1]
  redis.call('ZADD', key, 'GT', ARGV[5 + index], queue_id)
  if trim then redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1)) end
  redis.call('PEXPIRE', key, retention)
end
return length
