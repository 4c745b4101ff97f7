# Agent-activation scenario (issue 5): activation-token issue plus redemption pairs, each pair
# an operator's POST /vsaas/api/v2/agent-activation-tokens followed by an agent's POST
# /vsaas/api/v2/agents/activate with that token (a new camera each). Source after bench/lib.sh.

# The pair script: each connection issues a token, then redeems the token it got back.
cat > "$WORK/pairs.lua" <<'LUA'
local counter = 0
local pending = {}
counted = 0
failed = 0
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) session = args[1]; operator = args[2]; body = args[3] end
function request()
  local token = table.remove(pending)
  if token then
    counter = counter + 1
    return wrk.format("POST", "/vsaas/api/v2/agents/activate", {["Content-Type"] = "application/x-www-form-urlencoded"},
      "operatorid=" .. operator .. "&sign=" .. token .. "&serial=bench-" .. tostring(counter) .. "-" .. tostring(math.random(1e9)))
  end
  return wrk.format("POST", "/vsaas/api/v2/agent-activation-tokens", {["x-vsaas-session"] = session, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status ~= 200 then failed = failed + 1; return end
  local token = body:match('^{"token":"([^"]+)"')
  if token then table.insert(pending, token) elseif body:find('"agent_key"') then counted = counted + 1 end
end
LUA
cat "$WORK/counted.lua" >> "$WORK/pairs.lua"

# activation_setup NAME: an operator (distributor), its user's session, an organization and a
# preset, through /v1 and /vsaas (sets ACT_OPERATOR, ACT_SESSION, ACT_BODY).
activation_setup() {
    local name="$1" admin org preset url="http://127.0.0.1:$PORT"
    admin="Authorization: Bearer $(cat "$DATA/admin-token")"
    ACT_OPERATOR="$(curl -fs -H "$admin" -H 'Content-Type: application/json' -d '{"kind":"distributor","parent_id":1,"name":"Bench operator"}' \
        "$url/v1/tenants" | json_field id)"
    curl -fs -H "$admin" -H 'Content-Type: application/json' -o /dev/null \
        -d "{\"tenant_id\":$ACT_OPERATOR,\"email\":\"op-$name@bench.example\",\"name\":\"Op\",\"password\":\"bench password\",\"permissions\":[\"manage_tenants\"]}" \
        "$url/v1/users"
    ACT_SESSION="$(curl -fs -H 'Content-Type: application/json' -d "{\"login\":\"op-$name@bench.example\",\"password\":\"bench password\"}" \
        "$url/vsaas/api/v2/auth/login" | json_field session)"
    org="$(curl -fs -H "x-vsaas-session: $ACT_SESSION" -H 'Content-Type: application/json' -d '{"title":"Bench org"}' \
        "$url/vsaas/api/v2/organizations" | json_field id)"
    preset="$(curl -fs -H "x-vsaas-session: $ACT_SESSION" -H 'Content-Type: application/json' -d "{\"organization_id\":$org,\"title\":\"default\"}" \
        "$url/vsaas/api/v2/presets" | json_field id)"
    ACT_BODY="{\"title\":\"bench cam\",\"organization_id\":$org,\"preset_id\":$preset}"
}

# activation_pairs NAME: prints a result line; req/s counts redemptions that made a camera.
activation_pairs() {
    result_line "$1" "$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/pairs.lua" "http://127.0.0.1:$PORT/" -- \
        "$ACT_SESSION" "$ACT_OPERATOR" "$ACT_BODY")"
}
