-- Takes a job off its store's backlog: idempotent, the byte counter goes down only if the job was
-- still listed.
local function unlist(backlog, bytes, jobId, size)
  if redis.call('ZREM', backlog, jobId) == 1 then
    redis.call('DECRBY', bytes, size)
  end
end
