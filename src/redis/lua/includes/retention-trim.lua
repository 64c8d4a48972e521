-- Dropping a store's retained copies. Index members are `ENTRY:COST:META` (`ENTRY:COST` before
-- the meta moved into the member), so a drop reads nothing but the index. Each drop moves the
-- gap-until time up to the dropped copy's delivery time: a replay from before it is incomplete.
-- Expects: KEYS[1] index, KEYS[2] byte counter, KEYS[3] gap-until; the entries' key prefix.
--
-- A dropped copy's key is not deleted here but named in `unlinked`, which the script returns: the
-- caller deletes them (UNLINK) right after. A script touches only the keys it declares, and a
-- copy's key cannot be declared before the script has chosen it. Should the caller die in between,
-- the copy's own expiry (the period and a margin) removes it.
local unlinked = {}
local function mark_gap(score)
  if tonumber(score) > tonumber(redis.call('GET', KEYS[3]) or '0') then redis.call('SET', KEYS[3], score) end
end

-- Drops the oldest `count` members (already read, with their scores, as `members`), in a few
-- commands whatever their number. Returns their summed cost.
local function drop_oldest(prefix, members)
  local entries, cost, newest = {}, 0, nil
  for index = 1, #members, 2 do
    local id, bytes = string.match(members[index], '^([^:]+):(%d+)')
    if id then
      entries[#entries + 1] = prefix .. id
      cost = cost + tonumber(bytes)
    end
    newest = members[index + 1]
  end
  if newest == nil then return 0 end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #members / 2 - 1)
  for index = 1, #entries do unlinked[#unlinked + 1] = entries[index] end
  if cost > 0 then redis.call('DECRBY', KEYS[2], cost) end
  mark_gap(newest)
  return cost
end

-- Drops copies oldest first until `over` bytes are freed or `limit` copies are gone; returns the
-- number dropped and the bytes still over. An empty index with bytes still counted (a counter out
-- of step) sets the counter to `base`, the bytes of copies not yet listed (the one being kept).
local function make_room(prefix, over, limit, base, budget)
  local dropped = 0
  while over > 0 and dropped < limit do
    local oldest = redis.call('ZRANGE', KEYS[1], 0, math.min(63, limit - dropped - 1), 'WITHSCORES')
    if #oldest == 0 then
      redis.call('SET', KEYS[2], base)
      return dropped, base - budget
    end
    -- only as many as the room needs
    local take = {}
    local freed = 0
    for index = 1, #oldest, 2 do
      take[#take + 1] = oldest[index]
      take[#take + 1] = oldest[index + 1]
      freed = freed + tonumber(string.match(oldest[index], '^[^:]+:(%d+)') or '0')
      if freed >= over then break end
    end
    over = over - drop_oldest(prefix, take)
    dropped = dropped + #take / 2
  end
  return dropped, over
end
