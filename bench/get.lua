-- wrk script: a plain GET (the health endpoint).
wrk.method = "GET"
