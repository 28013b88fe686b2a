-- Soak: the governed key (rpm/tpm limits, token and USD budgets), streamed one time in four.
request = function()
  local stream = math.random(1, 4) == 1 and "true" or "false"
  local body = '{"model":"gpt-4o-mini","stream":' .. stream .. ',"messages":[{"role":"user","content":"hello"}]}'
  return wrk.format("POST", "/v1/chat/completions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer vk-gov"}, body)
end
