-- wrk script: the ~1 KB question of chat.lua as an Anthropic Messages request (x-api-key),
-- translated by the gateway to chat completions and the answer back (docs/dialects.md).
local content = string.rep("The quick brown fox jumps over the lazy dog. ", 20)
wrk.method = "POST"
wrk.path = "/v1/messages"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "vk-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"gpt-4o-mini","max_tokens":256,"messages":[{"role":"user","content":"'
  .. content .. '"}]}'
