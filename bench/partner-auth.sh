#!/usr/bin/env bash
# Partner-auth benchmark (issue 3): refresh grant and a bearer-authenticated GET against a
# trivial route, release build, embedded SQLite, wrk on loopback, side by side in one run.
#
#   bash bench/partner-auth.sh            # needs wrk (apt-get install wrk) and curl
#
# Writes bench/results/partner-auth.md and bench/results/partner-auth.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
PORT="$(free_port)"
SECRET="bench-client-secret-0123456789"
cat > "$WORK/fixture.json" <<JSON
{"version": 1,
 "tenants": [{"key": "bench-res", "kind": "reseller", "name": "Bench reseller", "features": {"generate_access_token": true}},
             {"key": "bench-acct", "kind": "account", "parent": "bench-res", "name": "Bench account"}],
 "users": [{"email": "dealer@bench.example", "tenant": "bench-res", "name": "Dealer", "permissions": ["generate_access_token"], "password": "bench password"}],
 "clients": [{"client_id": "bench", "tenant": "bench-res", "name": "Bench", "scopes": ["read", "write"], "provisioning": true, "secret": "$SECRET"}]}
JSON
"$BIN" import "$WORK/fixture.json" --data-dir "$WORK/data" >/dev/null
"$BIN" serve --data-dir "$WORK/data" --port "$PORT" --admin-tls-port 0 --rest-gateway-port 0 --log-level error >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_healthy

BASIC="Basic $(printf 'bench:%s' "$SECRET" | base64 -w0)"
LOGIN="$(curl -fs -X POST -H "Authorization: $BASIC" "http://127.0.0.1:$PORT/oauth/token?grant_type=password&scope=write&username=dealer@bench.example&password=bench%20password")"
ACCESS="$(echo "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
REFRESH="$(echo "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')"

cat > "$WORK/refresh.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "$BASIC"
wrk.path = "/oauth/token?grant_type=refresh_token&scope=write&refresh_token=$REFRESH"
LUA
cat > "$WORK/bearer.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $ACCESS"
wrk.path = "/rest/v2.2/users/self"
LUA
RESULTS="$WORK/results.txt"
run trivial "" "/healthz" | tee -a "$RESULTS"
run bearer_get "$WORK/bearer.lua" "/rest/v2.2/users/self" | tee -a "$RESULTS"
run refresh_grant "$WORK/refresh.lua" "/oauth/token" | tee -a "$RESULTS"

mkdir -p bench/results
python3 bench/report.py "$RESULTS" bench/results/partner-auth "Partner-auth benchmark" '{
  "ratios": {"bearer_get_vs_trivial": ["bearer_get", "trivial"]},
  "targets": [{"label": "refresh grant", "kind": "rps", "key": "refresh_grant", "min": 5000},
              {"label": "bearer GET / trivial route", "kind": "ratio", "key": "bearer_get_vs_trivial", "min": 0.5}]}'
