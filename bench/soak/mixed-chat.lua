-- Soak: chat completions over 2,000 distinct prompts (so the proxy cache sees misses and hits
-- and stays at a bounded size), one in twenty sent with a fault for the mock upstream to play.
local content = string.rep("The quick brown fox jumps over the lazy dog. ", 10)
local faults = {
  {"x-mock-status", "500"}, {"x-mock-reset-after-bytes", "40"}, {"x-mock-status", "429"},
}
request = function()
  local n = math.random(1, 2000)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer vk-soak"}
  if math.random(1, 20) == 1 then
    local f = faults[math.random(1, #faults)]
    headers[f[1]] = f[2]
    headers["Cache-Control"] = "no-cache"
  end
  local body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. n .. ' ' .. content .. '"}]}'
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end
