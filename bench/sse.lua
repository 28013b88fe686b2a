-- wrk script: a streaming chat completion (SSE, chunked) with a virtual key.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer vk-bench"
wrk.body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
