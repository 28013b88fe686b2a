-- wrk script: a ~1 KB chat completion POST with a virtual key (ignored by plain upstreams);
-- DITTO_BENCH_TOKEN replaces it (bench/access.sh sends a JWT).
local content = string.rep("The quick brown fox jumps over the lazy dog. ", 20)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("DITTO_BENCH_TOKEN") or "vk-bench")
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. content .. '"}]}'
