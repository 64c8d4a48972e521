--[[
  Drops a store's retained copies past the retention period, then the oldest over its budget.

  KEYS[1] the store's retained index (sorted set, score = delivery time)
  KEYS[2] the retained copies' byte counter
  KEYS[3] the store's gap-until time

  ARGV[1] the entries' key prefix (an entry's key is the prefix and its id)
  ARGV[2] the cutoff: copies delivered before it are past the period
  ARGV[3] the budget in bytes
  ARGV[4] the most copies dropped of each kind in this call

  Returns {copies past the period dropped, copies over the budget dropped, the dropped copies' keys
  (for the caller to UNLINK)}.
]]
--- @include "retention-trim"
local prefix, budget, limit = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', 0, limit)
drop_oldest(prefix, old)
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local dropped = 0
if used > budget then dropped = make_room(prefix, used - budget, limit, 0, budget) end
return {#old / 2, dropped, unlinked}
