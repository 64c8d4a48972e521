--[[
  Puts a job back on its store's backlog (a kept message retried); idempotent like unlist.

  KEYS[1] the store's backlog (sorted set of job ids)
  KEYS[2] the backlog's byte counter

  ARGV[1] job id
  ARGV[2] the message's size in bytes
  ARGV[3] the message's arrival time (the score)

  Returns 1.
]]
if redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1]) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
end
return 1
