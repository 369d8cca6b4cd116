-- wrk script for Scripts/bench.py: sends the request 8 times per write, so that one keep-alive connection
-- carries 8 requests in flight (HTTP/1.1 pipelining, answered in order).
--   wrk -t1 -c1 -d5s -s pipeline.lua URL
init = function(args)
    local request = wrk.format()
    requests = string.rep(request, 8)
end

request = function()
    return requests
end
