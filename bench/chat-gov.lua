-- wrk script: bench/chat.lua with the governed key (rpm/tpm limits, token and USD budgets).
dofile("bench/chat.lua")
wrk.headers["Authorization"] = "Bearer vk-gov"
