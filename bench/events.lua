-- wrk script: POSTs event batches with fresh ids, like browsers on the demo site.
-- EVENTS_PER_REQUEST (1 or 10) and VISITORS (how many distinct visitors) come from
-- the environment.
local per_request = tonumber(os.getenv("EVENTS_PER_REQUEST") or "1")
local visitors = tonumber(os.getenv("VISITORS") or "1000")
local origin = os.getenv("ORIGIN") or "http://127.0.0.1:8080"
local counter = 0
local thread_tag = 0

function setup(thread)
  thread_tag = thread_tag + 1
  thread:set("tag", thread_tag)
end

local function id(kind, n)
  -- A valid version 4 UUID, unique per thread, kind and number.
  return string.format("%08x-%04x-4%03x-8%03x-%012x", tag or 0, kind, 0, 0, n)
end

request = function()
  local events = {}
  for i = 1, per_request do
    counter = counter + 1
    events[i] = string.format(
      '{"id":"%s","session_id":"%s","at":%d,"url":"%s/www/pricing.html","referrer":"","kind":"page_view"}',
      id(1, counter), id(2, counter % visitors), os.time() * 1000, origin)
  end
  local visitor = id(3, counter % visitors)
  local body = string.format('{"site":"demo","visitor_id":"%s","sent_at":%d,"events":[%s]}',
    visitor, os.time() * 1000, table.concat(events, ","))
  return wrk.format("POST", "/api/v1/events", {
    ["Origin"] = origin,
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
    ["Content-Type"] = "text/plain",
  }, body)
end
