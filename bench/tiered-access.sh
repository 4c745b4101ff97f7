#!/usr/bin/env bash
# Tiered-access benchmark (issue 4): an Acc-authenticated GET /api/v4/channel/ and an
# LKey GET of one channel against the trivial route, and channel creation, release build,
# embedded SQLite, wrk on loopback, side by side in one run.
#
#   bash bench/tiered-access.sh            # needs wrk (apt-get install wrk), curl and openssl
#
# Writes bench/results/tiered-access.md and bench/results/tiered-access.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
"$BIN" serve --data-dir "$WORK/data" --port "$PORT" --admin-tls-port "$ADMIN_PORT" --rest-gateway-port 0 --log-level error >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_healthy
D="$WORK/data"
for _ in $(seq 1 50); do
    curl -fs --cacert "$D/ca.pem" --cert "$D/superadmin-cert.pem" --key "$D/superadmin-key.pem" "https://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null && break
    sleep 0.1
done
# The account through the super-admin API (no camera limit, so creation can run for the whole window).
ACCOUNT="$(curl -fs --cacert "$D/ca.pem" --cert "$D/superadmin-cert.pem" --key "$D/superadmin-key.pem" -X POST -H 'Content-Type: application/json' \
    -d '{"suid":"bench@example.com","usrc":"Bench"}' "https://127.0.0.1:$ADMIN_PORT/api/v2/admin/users/")"
LKEY="$(echo "$ACCOUNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["license_key"]["value"])')"
CHANNEL="$(curl -fs -X POST -H "Authorization: LKey $LKEY" -H 'Content-Type: application/json' -d '{"name":"bench cam","meta":{"site":"bench"}}' \
    "http://127.0.0.1:$PORT/api/v3/channels/")"
CHANNEL_ID="$(echo "$CHANNEL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
ACC="$(echo "$CHANNEL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_tokens"]["watch"])')"

cat > "$WORK/acc.lua" <<LUA
wrk.headers["Authorization"] = "Acc $ACC"
LUA
cat > "$WORK/lkey.lua" <<LUA
wrk.headers["Authorization"] = "LKey $LKEY"
LUA
cat > "$WORK/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "LKey $LKEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench","timezone":"Europe/Berlin","rec_mode":"on","source":{"url":"rtsp://10.0.0.1/stream","login":"admin","password":"pw"}}'
LUA

RESULTS="$WORK/results.txt"
run trivial "" "/healthz" | tee -a "$RESULTS"
run acc_get_channel "$WORK/acc.lua" "/api/v4/channel/" | tee -a "$RESULTS"
run lkey_get_channel "$WORK/lkey.lua" "/api/v3/channels/$CHANNEL_ID/" | tee -a "$RESULTS"
run channel_create "$WORK/create.lua" "/api/v3/channels/" | tee -a "$RESULTS"

mkdir -p bench/results
python3 bench/report.py "$RESULTS" bench/results/tiered-access "Tiered-access benchmark" '{
  "ratios": {"acc_get_vs_trivial": ["acc_get_channel", "trivial"], "lkey_get_vs_trivial": ["lkey_get_channel", "trivial"]},
  "targets": [{"label": "Acc GET /api/v4/channel/ / trivial route", "kind": "ratio", "key": "acc_get_vs_trivial", "min": 0.5},
              {"label": "channel creation", "kind": "rps", "key": "channel_create", "min": 2000}]}'
