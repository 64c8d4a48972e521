--[[
  Ends one delivery job queued before per-job copies (no `ownCopy`): off its store's backlog and
  held set, its member off the message's pending set; the last job out deletes the message and
  its shared body. Idempotent: finishing twice removes nothing more.

  KEYS[1] the message's pending set (the jobs not yet ended)
  KEYS[2] the message's body
  KEYS[3] the message's envelope (hash)
  KEYS[4] the store's backlog (sorted set of job ids)
  KEYS[5] the backlog's byte counter
  KEYS[6] the store's messages held one by one (set of job ids)

  ARGV[1] the job's member in the pending set
  ARGV[2] job id
  ARGV[3] the message's size in bytes

  Returns 1 when the job's member was still pending, else 0.
]]
--- @include "unlist"
unlist(KEYS[4], KEYS[5], ARGV[2], ARGV[3])
redis.call('SREM', KEYS[6], ARGV[2])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
end
return removed
