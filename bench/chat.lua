-- wrk script: every request is a chat completion POST like the engine's (one user message).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Write a short essay on the history of tides."}],"temperature":0.8,"max_tokens":1024,"seed":1}'

-- Non-2xx answers would mean the check measured errors, not answers: wrk reports them as
-- "Non-2xx or 3xx responses", which the calling script treats as a failure.
