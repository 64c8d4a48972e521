--[[
  Ends one delivery job: off its store's backlog and held set, and its copy of the message bytes
  deleted. Every key is in the store's slot. Idempotent: finishing twice removes nothing more.

  KEYS[1] the job's copy of the message bytes
  KEYS[2] the store's backlog (sorted set of job ids)
  KEYS[3] the backlog's byte counter
  KEYS[4] the store's messages held one by one (set of job ids)

  ARGV[1] job id
  ARGV[2] the message's size in bytes

  Returns 1 when the job's copy was still there, else 0.
]]
--- @include "unlist"
unlist(KEYS[2], KEYS[3], ARGV[1], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[1])
return redis.call('DEL', KEYS[1])
