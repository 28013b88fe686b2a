-- Soak: requests the gateway answers itself: unknown key, invalid JSON, unknown path.
local cases = {
  {"POST", "/v1/chat/completions", "Bearer vk-nobody", '{"model":"gpt-4o-mini","messages":[]}'},
  {"POST", "/v1/chat/completions", "Bearer vk-soak", '{"model":'},
  {"GET", "/v2/unknown", "Bearer vk-soak", nil},
}
request = function()
  local c = cases[math.random(1, #cases)]
  return wrk.format(c[1], c[2], {["Content-Type"] = "application/json", ["Authorization"] = c[3]}, c[4])
end
