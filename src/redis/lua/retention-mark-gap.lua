--[[
  Records that a delivery's copy was not kept: a replay from before it cannot be complete.

  KEYS[1] the store's gap-until time (string, milliseconds)

  ARGV[1] the delivery time of the copy not kept; the gap only moves forward

  Returns 1.
]]
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
