-- wrk script: bench/chat.lua's request, each with the next JWT of the file DITTO_BENCH_TOKENS
-- (one per line), so that no token is seen twice within a worker's memory of 4096 tokens and
-- every request pays the full check (bench/access.sh).
local content = string.rep("The quick brown fox jumps over the lazy dog. ", 20)
local body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. content .. '"}]}'
local tokens = {}
for line in io.lines(os.getenv("DITTO_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[i]}, body)
end
