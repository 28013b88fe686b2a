-- wrk script: the SSE request routed to the mock upstream by the gateway's "sse-" rule.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer vk-bench"
wrk.body = '{"model":"sse-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}'
