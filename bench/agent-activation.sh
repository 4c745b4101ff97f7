#!/usr/bin/env bash
# Agent-activation benchmark (issue 5): activation-token issue plus redemption pairs, each pair
# an operator's POST /vsaas/api/v2/agent-activation-tokens followed by an agent's POST
# /vsaas/api/v2/agents/activate with that token (a new camera each), against the trivial route;
# release build, wrk on loopback; on the embedded SQLite and on a throwaway PostgreSQL.
#
#   bash bench/agent-activation.sh     # needs wrk, curl, python3 and Debian's postgresql
#
# Writes bench/results/agent-activation.md and bench/results/agent-activation.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source scripts/postgres-env.sh
RESULTS="$WORK/results.txt"
: > "$RESULTS"

# The pair script: each connection issues a token, then redeems the token it got back.
cat > "$WORK/pairs.lua" <<'LUA'
local counter = 0
local pending = {}
redeemed = 0
failed = 0
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
  if token then table.insert(pending, token) elseif body:find('"agent_key"') then redeemed = redeemed + 1 end
end
LUA
cat >> "$WORK/pairs.lua" <<'LUA'
threads = {}
function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do total = total + thread:get("redeemed"); bad = bad + thread:get("failed") end
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", total / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, total))
end
LUA

# bench_engine NAME EXTRA-SERVE-ARGS...: one server; trivial route, then pairs.
bench_engine() {
    local name="$1"; shift
    PORT="$(free_port)"
    local data="$WORK/data-$name"
    "$BIN" serve --data-dir "$data" --port "$PORT" --admin-tls-port 0 --rest-gateway-port 0 --log-level error "$@" >"$WORK/server-$name.out" 2>"$WORK/server-$name.err" &
    SERVER=$!
    wait_healthy
    local admin="Authorization: Bearer $(cat "$data/admin-token")"
    local operator org preset session
    operator="$(curl -fs -H "$admin" -H 'Content-Type: application/json' -d '{"kind":"distributor","parent_id":1,"name":"Bench operator"}' \
        "http://127.0.0.1:$PORT/v1/tenants" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    curl -fs -H "$admin" -H 'Content-Type: application/json' -o /dev/null \
        -d "{\"tenant_id\":$operator,\"email\":\"op-$name@bench.example\",\"name\":\"Op\",\"password\":\"bench password\",\"permissions\":[\"manage_tenants\"]}" \
        "http://127.0.0.1:$PORT/v1/users"
    session="$(curl -fs -H 'Content-Type: application/json' -d "{\"login\":\"op-$name@bench.example\",\"password\":\"bench password\"}" \
        "http://127.0.0.1:$PORT/vsaas/api/v2/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')"
    org="$(curl -fs -H "x-vsaas-session: $session" -H 'Content-Type: application/json' -d '{"title":"Bench org"}' \
        "http://127.0.0.1:$PORT/vsaas/api/v2/organizations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    preset="$(curl -fs -H "x-vsaas-session: $session" -H 'Content-Type: application/json' -d "{\"organization_id\":$org,\"title\":\"default\"}" \
        "http://127.0.0.1:$PORT/vsaas/api/v2/presets" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    run "trivial_$name" "" "/healthz" | tee -a "$RESULTS"
    local out rps p50 p99 errors total
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/pairs.lua" "http://127.0.0.1:$PORT/" -- \
        "$session" "$operator" "{\"title\":\"bench cam\",\"organization_id\":$org,\"preset_id\":$preset}" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$out"
    echo "pairs_$name $rps $p50 $p99 $errors $total $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)" | tee -a "$RESULTS"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
}

trap 'kill $SERVER 2>/dev/null || true; stop_throwaway_postgres; rm -rf "$WORK"' EXIT
SERVER=0
bench_engine sqlite
start_throwaway_postgres
bench_engine postgres --database-url "$THROWAWAY_POSTGRES_URL"

mkdir -p bench/results
BENCH_DATABASE="SQLite and PostgreSQL" BENCH_NOTE="each engine against its own server; pairs/s counts redemptions that made a camera (every pair is two requests)." \
python3 bench/report.py "$RESULTS" bench/results/agent-activation "Agent-activation benchmark" '{
  "ratios": {"pairs_vs_trivial_sqlite": ["pairs_sqlite", "trivial_sqlite"]},
  "targets": [{"label": "token issue + redemption pairs, SQLite", "kind": "rps", "key": "pairs_sqlite", "min": 2000},
              {"label": "token issue + redemption pairs, PostgreSQL", "kind": "rps", "key": "pairs_postgres", "min": 1000}]}'
