--[[
  Keeps a copy of one delivery for replay: a copy, made inside Redis, of the queued body as it is
  stored (gzip'd or as received), under the entry's own key with the retention period as expiry,
  listed in the store's index with its cost and metadata. Idempotent by entry: a copy that exists
  is not made again. Over the budget, the store's oldest copies go first.

  KEYS[1] the store's retained index (sorted set, score = delivery time)
  KEYS[2] the retained copies' byte counter
  KEYS[3] the store's gap-until time
  KEYS[4] the new entry
  KEYS[5] the queued body

  ARGV[1] the entries' key prefix
  ARGV[2] the budget in bytes
  ARGV[3] the most copies dropped to make room
  ARGV[4] the index member, `ENTRY:COST:META`
  ARGV[5] the delivery time (the score)
  ARGV[6] the entry's expiry in milliseconds
  ARGV[7] its cost: the stored body's bytes and the metadata's

  Returns {1 kept / 0 not, copies dropped for room, outcome: kept, exists, gone, too-big, no-room,
  the dropped copies' keys (for the caller to UNLINK)}.
]]
--- @include "retention-trim"
local prefix, budget, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local score, cost = ARGV[5], tonumber(ARGV[7])
if cost > budget then
  mark_gap(score)
  return {0, 0, 'too-big'}
end
if redis.call('COPY', KEYS[5], KEYS[4]) == 0 then
  if redis.call('EXISTS', KEYS[4]) == 1 then return {0, 0, 'exists'} end
  mark_gap(score)
  return {0, 0, 'gone'}
end
local used = redis.call('INCRBY', KEYS[2], cost)
local dropped = 0
if used > budget then
  local over
  dropped, over = make_room(prefix, used - budget, limit, cost, budget)
  if over > 0 then
    redis.call('UNLINK', KEYS[4])
    redis.call('DECRBY', KEYS[2], cost)
    mark_gap(score)
    return {0, dropped, 'no-room', unlinked}
  end
end
redis.call('PEXPIRE', KEYS[4], ARGV[6])
redis.call('ZADD', KEYS[1], score, ARGV[4])
return {1, dropped, 'kept', unlinked}
