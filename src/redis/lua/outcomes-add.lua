--[[
  Adds one attempt's recipient outcomes to the store's 5xx guard window and returns the counts
  within it. The window is kept in buckets (hash fields `a:BUCKET` for every outcome and
  `r:BUCKET` for refusals, BUCKET = time / bucket length): an attempt adds to two fields at most,
  and fields of buckets before the window are dropped here.

  KEYS[1] the store's outcomes (hash)

  ARGV[1] the current bucket
  ARGV[2] the first bucket still in the window (fields before it are dropped)
  ARGV[3] the key's expiry in milliseconds (it goes once the store is idle for a window)
  ARGV[4] recipients answered in this attempt
  ARGV[5] of them refused with 5xx

  Returns {every outcome, refusals} within the window.
]]
local bucket, first = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[1], 'a:' .. bucket, ARGV[4]) end
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[1], 'r:' .. bucket, ARGV[5]) end
local fields = redis.call('HGETALL', KEYS[1])
local counts = {a = 0, r = 0}
local stale = {}
for index = 1, #fields, 2 do
  local kind, at = string.match(fields[index], '^(%a):(%d+)$')
  if at and tonumber(at) >= first then
    counts[kind] = counts[kind] + tonumber(fields[index + 1])
  else
    stale[#stale + 1] = fields[index]
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {counts.a, counts.r}
