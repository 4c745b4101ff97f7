#!/usr/bin/env bash
# Signed-onboarding benchmark (issue 7): signed verify and onboarding with a PEM certificate
# (a new P-256 key and certificate, the key encrypted with PBES2 / PBKDF2-HMAC-SHA256 at
# 10,000 iterations), release build, embedded SQLite, wrk on loopback, beside a trivial route
# in one run. Every request is a distinct request signed beforehand (a signed request is
# accepted once), and every onboarding uses its own registration code.
#
#   bash bench/signed-onboarding.sh       # needs wrk, curl and python3-cryptography
#
# Writes bench/results/signed-onboarding.md and bench/results/signed-onboarding.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography is needed: apt-get install python3-cryptography" >&2; exit 1; }
PORT="$(free_port)"
"$BIN" serve --data-dir "$WORK/data" --port "$PORT" --admin-tls-port 0 --rest-gateway-port 0 --log-level error >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_healthy
ADMIN="$(cat "$WORK/data/admin-token")"

# signed.lua: sends the lines of the file given after "--" in order, once each; answers other
# than the expected status count as errors.
cat > "$WORK/signed.lua" <<'LUA'
local lines, index, expected = {}, 0, 200
accepted, failed = 0, 0
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  expected = tonumber(args[2])
end
function request()
  index = index + 1
  local line = lines[index]
  if line == nil then return wrk.format("GET", "/bench-out-of-signed-requests") end
  local code, signature, application, body = line:match("^(%S+) (%S+) (%S+) (.*)$")
  return wrk.format("POST", wrk.path, {["Authorization"] = "Bearer " .. code, ["Content-Type"] = "application/json",
    ["X-Agrirouter-ApplicationId"] = application, ["X-Agrirouter-Signature"] = signature}, body)
end
function response(status)
  if status == expected then accepted = accepted + 1 else failed = failed + 1 end
end
function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do total = total + thread:get("accepted"); bad = bad + thread:get("failed") end
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", total / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, total))
end
LUA
# Only answers with the expected status count; a scenario that runs out of signed requests
# asks for a path that does not exist, which counts as an error.
RESULTS="$WORK/results.txt"
signed_run() {
    local name="$1" kind="$2" count="$3" path="$4" status="$5" out rps p50 p99 errors total
    python3 bench/signed_onboarding_fixture.py "$PORT" "$ADMIN" "$kind" "$count" "$WORK/$name.txt"
    out="$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/signed.lua" "http://127.0.0.1:$PORT$path" -- "$WORK/$name.txt" "$status" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$out"
    echo "$name $rps $p50 $p99 $errors $total $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)"
}
run trivial "" "/healthz" | tee -a "$RESULTS"
signed_run signed_verify verify "${VERIFY_REQUESTS:-60000}" /api/v1.0/registration/onboard/verify 200 | tee -a "$RESULTS"
signed_run onboard_pem onboard "${ONBOARD_REQUESTS:-8000}" /api/v1.0/registration/onboard/request 201 | tee -a "$RESULTS"

mkdir -p bench/results
BENCH_NOTE="all scenarios in one run against one server; every signed request is distinct and signed beforehand, every onboarding has its own registration code; PBKDF2-HMAC-SHA256 at 10,000 iterations for the PEM key." \
python3 bench/report.py "$RESULTS" bench/results/signed-onboarding "Signed-onboarding benchmark" '{
  "ratios": {"verify_vs_trivial": ["signed_verify", "trivial"], "onboard_vs_trivial": ["onboard_pem", "trivial"]},
  "targets": [{"label": "signed verify", "kind": "rps", "key": "signed_verify", "min": 3000},
              {"label": "onboarding with a PEM certificate", "kind": "rps", "key": "onboard_pem", "min": 300}]}'
