-- wrk script: a ~1 KB chat completion POST with a virtual key (ignored by plain upstreams).
local content = string.rep("The quick brown fox jumps over the lazy dog. ", 20)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer vk-bench"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. content .. '"}]}'
