#!/usr/bin/env bash
# Device-channel benchmark (issue 9): COUNT simulated devices (default 10,000) keep a WebSocket
# open to one `gatehouse serve` (SQLite) on loopback; a settings change is pushed to all of them
# through the API and timed until the last device reported it applied.
#
#   bash bench/device-channel.sh          # COUNT=1000 bash bench/device-channel.sh for a quick run
#   GATEHOUSE_BIN=.build/debug/gatehouse COUNT=200 bash bench/device-channel.sh   # check the script only (figures go to /tmp)
#
# Steps: release build; serve on a temp data dir; an operator issues COUNT activation tokens
# (POST /vsaas/api/v2/agent-activation-tokens); `gatehouse agent simulate --no-channel` activates
# every device once (state on /dev/shm), then `gatehouse agent simulate` runs them again from
# their state, each keeping a channel. Server RSS is read before and after the channels opened
# (memory per connection = the difference / COUNT). Then one fleet settings change
# (PATCH /v1/tenants/{operator}/device-settings) for all of them, and the simulator's
# progress lines tell when each device reported the new version.
#
# Writes bench/results/device-channel.md and bench/results/device-channel.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
COUNT="${COUNT:-10000}"
# Each side holds COUNT sockets.
ulimit -n $((COUNT * 2 + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
STATE="$(mktemp -d /dev/shm/gatehouse-channel-bench.XXXXXX 2>/dev/null || mktemp -d "$WORK/state.XXXXXX")"
SERVER=0
SIM=0
# (Only pids that are set: `kill 0` would stop this script's whole process group.)
trap 'for pid in $SERVER $SIM; do [ "$pid" -gt 0 ] && kill "$pid" 2>/dev/null; done; rm -rf "$STATE"; [ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
# progress FIELD: the field of the simulator's last progress line.
progress() {
    tail -n 1 "$WORK/sim.out" | python3 -c "
import json,sys
try: print(json.loads(sys.stdin.read())['progress'].get('$1', 0))
except Exception: print(0)"
}
figure() { echo "$1 $2 $3" | tee -a "$FIGURES"; }

PORT="$(free_port)"
DATA="$WORK/data"
GATEHOUSE_PASSWORD_HASH_ROUNDS=1000 "$BIN" serve --data-dir "$DATA" --port "$PORT" --admin-tls-port 0 --rest-gateway-port 0 --log-level error \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
wait_healthy
ADMIN="$(cat "$DATA/admin-token")"
URL="http://127.0.0.1:$PORT"

echo "issuing $COUNT activation tokens" >&2
python3 bench/device_channel_fixture.py tokens "$PORT" "$ADMIN" "$COUNT" "$WORK/tokens.txt"
echo "activating $COUNT devices" >&2
started="$(now_ms)"
"$BIN" agent simulate --count "$COUNT" --server "$URL" --tokens-file "$WORK/tokens.txt" --state-dir "$STATE" --no-channel \
    --duration-seconds 0 --progress-ms 1000 --heartbeat-seconds 3600 >"$WORK/activate.out" 2>"$WORK/activate.err" &
SIM=$!
# Activation is done when every state file holds credentials.
for _ in $(seq 1 1200); do
    done_count="$( (grep -l '"agent_key"' "$STATE"/agent-*/state.json 2>/dev/null || true) | wc -l)"
    [ "$done_count" -ge "$COUNT" ] && break
    sleep 0.5
done
kill -TERM "$SIM"; wait "$SIM" || true; SIM=0
figure activation_seconds "$(python3 -c "print(($(now_ms) - $started) / 1000)")" s
[ "$done_count" -ge "$COUNT" ] || { echo "only $done_count of $COUNT devices activated" >&2; tail -5 "$WORK/activate.err" >&2; exit 1; }

sleep 2
before="$(rss_kb "$SERVER")"
echo "opening $COUNT channels (server RSS before: $before kB)" >&2
started="$(now_ms)"
"$BIN" agent simulate --count "$COUNT" --server "$URL" --tokens-file "$WORK/tokens.txt" --state-dir "$STATE" \
    --duration-seconds 0 --progress-ms 500 --heartbeat-seconds 3600 --log-level "${SIM_LOG_LEVEL:-warning}" >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM=$!
connected=0
for _ in $(seq 1 1200); do
    sleep 0.5
    connected="$(progress connected)"
    [ "$connected" -ge "$COUNT" ] && break
done
connect_ms=$(( $(now_ms) - started ))
sleep 5
connected="$(progress connected)"
after="$(rss_kb "$SERVER")"
python3 bench/device_channel_fixture.py online "$PORT" "$ADMIN" > "$WORK/online.txt"
online="$(sed -n 1p "$WORK/online.txt")"
sed -n 2p "$WORK/online.txt" > "$WORK/ids.txt"
figure devices "$COUNT" devices
figure connected "$connected" channels
figure online_by_api "$online" devices
figure connect_all_seconds "$(python3 -c "print($connect_ms / 1000)")" s
figure server_rss_before "$(python3 -c "print($before / 1024)")" MB
figure server_rss_connected "$(python3 -c "print($after / 1024)")" MB
figure memory_per_connection "$(python3 -c "print(($after - $before) / max(1, $connected))")" kB
figure simulator_rss "$(python3 -c "print($(rss_kb "$SIM") / 1024)")" MB
figure simulator_memory_per_device "$(python3 -c "print($(rss_kb "$SIM") / $COUNT)")" kB

OPERATOR="$(head -n 1 "$WORK/tokens.txt" | cut -d: -f1)"
echo "pushing a settings change to the $online devices of operator $OPERATOR" >&2
python3 bench/device_channel_fixture.py fleet "$PORT" "$ADMIN" "$OPERATOR" "$WORK/push.json"
read -r push_started push_finished version failures changed < <(python3 -c "
import json; p=json.load(open('$WORK/push.json')); v=max(p['versions'], key=lambda k: p['versions'][k]) if p['versions'] else '0'
print(p['started_ms'], p['finished_ms'], v, p['failures'], p['changed'])")
reported=0
last_ms=0
for _ in $(seq 1 1200); do
    sleep 0.5
    read -r reported last_ms < <(tail -n 1 "$WORK/sim.out" | python3 -c "
import json,sys
try: v=json.loads(sys.stdin.read())['progress']['versions'].get('$version', {}); print(v.get('reported', 0), v.get('last_ms', 0))
except Exception: print(0, 0)")
    [ "$reported" -ge "$online" ] && break
done
read -r in_sync sampled < <(python3 bench/device_channel_fixture.py synced "$PORT" "$ADMIN" "$WORK/ids.txt" 200)
figure fleet_change_seconds "$(python3 -c "print(($push_finished - $push_started) / 1000)")" s
figure fleet_change_devices "$changed" devices
figure fleet_change_failures "$failures" requests
figure settings_reported "$reported" devices
figure change_to_all_reported_seconds "$(python3 -c "print(($last_ms - $push_started) / 1000)")" s
figure answer_to_all_reported_seconds "$(python3 -c "print(max(0, $last_ms - $push_finished) / 1000)")" s
figure in_sync_by_api_sample "$in_sync" "of $sampled sampled"
figure server_peak_rss "$(python3 -c "print($(awk '/VmHWM/ {print $2}' /proc/$SERVER/status) / 1024)")" MB

kill -TERM "$SIM"; wait "$SIM" || true; SIM=0
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=0

# Only a release binary's figures go into bench/results (a debug one's go to /tmp/device-channel-check).
OUT="${BENCH_OUT:-$([ -n "${GATEHOUSE_BIN:-}" ] && [ "${GATEHOUSE_BIN#*release}" = "$GATEHOUSE_BIN" ] && echo /tmp/device-channel-check || echo bench/results/device-channel)}"
mkdir -p "$(dirname "$OUT")"
BENCH_DATABASE="SQLite" BENCH_NOTE="$COUNT simulated devices (one gatehouse agent simulate process, one shared event loop group) against one node; settings pushed with one fleet change (PATCH /v1/tenants/{operator}/device-settings); no wrk runs." \
python3 bench/report.py "$RESULTS" "$OUT" "Device-channel benchmark" "{
  \"targets\": [{\"label\": \"devices connected to one node\", \"kind\": \"figure\", \"key\": \"connected\", \"min\": $COUNT},
                {\"label\": \"devices that reported the change\", \"kind\": \"figure\", \"key\": \"settings_reported\", \"min\": $COUNT}]}" "$FIGURES"
