--[[
  Takes a job off its store's backlog (mail kept for the operator, a job deleted).

  KEYS[1] the store's backlog (sorted set of job ids)
  KEYS[2] the backlog's byte counter

  ARGV[1] job id
  ARGV[2] the message's size in bytes

  Returns 1.
]]
--- @include "unlist"
unlist(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
