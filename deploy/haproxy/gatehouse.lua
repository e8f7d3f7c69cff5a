-- HAProxy 2.6: gatehouse's forward-auth as an http-request action, on HAProxy's built-in
-- HTTP client (core.httpclient): no Lua library to install. Loaded by gatehouse.cfg:
--   http-request lua.gatehouse_auth gatehouse
-- where gatehouse is the backend in front of gatehouse's own pages. The check goes to the
-- address HAProxy resolved for a server of that backend (as HAProxy resolves names, /etc/hosts
-- included), not to a name: the HTTP client would need DNS for it, at every request.
--
-- For every request it asks GET /_auth/verify with X-Forwarded-Method, -Proto, -Host and -Uri
-- taken from the real request (any a client sent are replaced), plus the client's own headers
-- (cookies, Authorization, Accept, Sec-Fetch-*, method overrides: gatehouse judges them too).
-- On 200 the identity headers of the answer replace the client's; any other answer (302 to
-- the login page, 401, 403, the 307 that carries a renewed session cookie) goes to the browser
-- as is, every Set-Cookie included. The variable txn.gatehouse is set to "allow" only on 200:
-- gatehouse.cfg denies whatever else, so an error in here never lets a request through.

-- What gatehouse may answer on 200 (identity_headers: x-auth or remote). A client's copy of
-- any of them is removed before the check, whether or not gatehouse sends it back.
local IDENTITY = { 'x-auth-user', 'x-auth-user-id', 'x-auth-email', 'x-auth-groups',
                   'remote-user', 'remote-email', 'remote-groups', 'remote-name' }

-- Not passed to the check: hop-by-hop and body framing (the check is a GET without body),
-- Host (the client's own is set from the URL), and every forwarded header (set below).
local NOT_FORWARDED = { ['host'] = true, ['content-length'] = true, ['transfer-encoding'] = true,
                        ['connection'] = true, ['keep-alive'] = true, ['upgrade'] = true, ['te'] = true,
                        ['expect'] = true, ['proxy-connection'] = true, ['x-original-url'] = true,
                        ['x-original-method'] = true, ['x-forwarded-method'] = true,
                        ['x-forwarded-proto'] = true, ['x-forwarded-host'] = true,
                        ['x-forwarded-uri'] = true, ['x-forwarded-for'] = true }

-- Not copied from a non-2xx answer: HAProxy frames the reply itself.
local NOT_REPLIED = { ['content-length'] = true, ['transfer-encoding'] = true,
                      ['connection'] = true, ['keep-alive'] = true }

local function check_headers(txn)
  local headers = {}
  for name, values in pairs(txn.http:req_get_headers()) do
    if not NOT_FORWARDED[name] then
      local list = {}
      for _, value in pairs(values) do list[#list + 1] = value end
      headers[name] = list
    end
  end
  local forwarded_for = txn.f:req_fhdr('x-forwarded-for')
  local client = txn.f:src()
  headers['x-forwarded-for'] = { forwarded_for and (forwarded_for .. ', ' .. client) or client }
  headers['x-forwarded-method'] = { txn.f:method() }
  -- A boolean fetch comes to Lua as 0 or 1, and 0 is true in Lua.
  local tls = txn.f:ssl_fc()
  headers['x-forwarded-proto'] = { (tls == 1 or tls == true) and 'https' or 'http' }
  headers['x-forwarded-host'] = { txn.f:req_fhdr('host') or '' }
  headers['x-forwarded-uri'] = { txn.f:pathq() }
  return headers
end

local function allow(txn, answer)
  for _, name in ipairs(IDENTITY) do
    local values = answer.headers[name]
    if values then
      for _, value in pairs(values) do txn.http:req_set_header(name, value) end
    end
  end
  txn:set_var('txn.gatehouse', 'allow')
end

local function reply_with(txn, answer)
  local reply = txn:reply({ status = answer.status, body = answer.body or '' })
  for name, values in pairs(answer.headers) do
    if not NOT_REPLIED[name] then
      for _, value in pairs(values) do reply:add_header(name, value) end
    end
  end
  txn:done(reply)
end

-- The check could not be made at all. (A gatehouse that is down or too slow comes back as
-- the HTTP client's own 503, which reply_with passes on.) Fail closed.
local function unavailable(txn)
  local reply = txn:reply({ status = 503, body = '{"error":"auth_unavailable","message":"The sign-in service is unavailable."}\n' })
  reply:add_header('content-type', 'application/json')
  reply:add_header('cache-control', 'no-store')
  txn:done(reply)
end

-- http://address/_auth/verify for one server of the backend, chosen at random.
local function verify_url(backend)
  local addresses = {}
  for _, server in pairs(core.backends[backend].servers) do addresses[#addresses + 1] = server:get_addr() end
  local address = addresses[math.random(#addresses)]
  local host, port = address:match('^(.*):(%d+)$')
  -- An IPv6 address goes in brackets in a URL.
  if host:find(':', 1, true) then address = '[' .. host .. ']:' .. port end
  return 'http://' .. address .. '/_auth/verify'
end

core.register_action('gatehouse_auth', { 'http-req' }, function(txn, backend)
  for _, name in ipairs(IDENTITY) do txn.http:req_del_header(name) end
  local ok, answer = pcall(function()
    return core.httpclient():get({ url = verify_url(backend), headers = check_headers(txn), timeout = 10000 })
  end)
  if not ok or not answer or not answer.status or answer.status == 0 then return unavailable(txn) end
  if answer.status == 200 then return allow(txn, answer) end
  reply_with(txn, answer)
end, 1)
