#!/usr/bin/env bash
# Partner-auth benchmark (issue 3): refresh grant and a bearer-authenticated GET against a
# trivial route, release build, embedded SQLite, wrk on loopback, side by side in one run.
#
#   bash bench/partner-auth.sh            # needs wrk (apt-get install wrk) and curl
#
# Writes bench/results/partner-auth.md and bench/results/partner-auth.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
swift build -c release --product gatehouse >/dev/null
BIN="$(swift build -c release --show-bin-path)/gatehouse"

WORK="$(mktemp -d /tmp/gatehouse-bench.XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SECRET="bench-client-secret-0123456789"
cat > "$WORK/fixture.json" <<JSON
{"version": 1,
 "tenants": [{"key": "bench-res", "kind": "reseller", "name": "Bench reseller", "features": {"generate_access_token": true}},
             {"key": "bench-acct", "kind": "account", "parent": "bench-res", "name": "Bench account"}],
 "users": [{"email": "dealer@bench.example", "tenant": "bench-res", "name": "Dealer", "permissions": ["generate_access_token"], "password": "bench password"}],
 "clients": [{"client_id": "bench", "tenant": "bench-res", "name": "Bench", "scopes": ["read", "write"], "provisioning": true, "secret": "$SECRET"}]}
JSON
"$BIN" import "$WORK/fixture.json" --data-dir "$WORK/data" >/dev/null
"$BIN" serve --data-dir "$WORK/data" --port "$PORT" --log-level error >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

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
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status, summary.requests))
end
LUA

run() {  # name, lua script (or empty), path
    local name="$1" script="$2" path="$3" out
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency)
    if [ -n "$script" ]; then
        cat "$script" "$WORK/report.lua" > "$WORK/run.lua"
    else
        cp "$WORK/report.lua" "$WORK/run.lua"
    fi
    out="$(wrk "${args[@]}" -s "$WORK/run.lua" "http://127.0.0.1:$PORT$path" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$out"
    local rss
    rss="$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)"
    echo "$name $rps $p50 $p99 $errors $total $rss"
}

RESULTS="$WORK/results.txt"
run trivial "" "/healthz" | tee -a "$RESULTS"
run bearer_get "$WORK/bearer.lua" "/rest/v2.2/users/self" | tee -a "$RESULTS"
run refresh_grant "$WORK/refresh.lua" "/oauth/token" | tee -a "$RESULTS"

mkdir -p bench/results
python3 - "$RESULTS" <<'PY'
import json, os, platform, sys, subprocess
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, errors, total, rss = line.split()
    rows[name] = {"requests_per_second": float(rps), "p50_ms": float(p50), "p99_ms": float(p99),
                  "errors": int(errors), "requests": int(total), "peak_rss_kb": int(rss)}
trivial = rows["trivial"]["requests_per_second"]
report = {
    "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                "cpu": next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")},
    "settings": {"duration": os.environ.get("DURATION", "10s"), "connections": int(os.environ.get("CONNECTIONS", "32")),
                 "threads": int(os.environ.get("THREADS", "1")), "database": "sqlite", "build": "release"},
    "results": rows,
    "ratios": {"bearer_get_vs_trivial": rows["bearer_get"]["requests_per_second"] / trivial},
    "targets": {"refresh_grant_rps": 5000, "bearer_get_vs_trivial": 0.5},
}
report["targets_met"] = {
    "refresh_grant_rps": rows["refresh_grant"]["requests_per_second"] >= 5000,
    "bearer_get_vs_trivial": report["ratios"]["bearer_get_vs_trivial"] >= 0.5,
}
json.dump(report, open("bench/results/partner-auth.json", "w"), indent=2)
with open("bench/results/partner-auth.md", "w") as md:
    md.write("# Partner-auth benchmark\n\n")
    md.write(f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu']}. Release build, SQLite, wrk "
             f"-t{report['settings']['threads']} -c{report['settings']['connections']} -d{report['settings']['duration']}, loopback.\n\n")
    md.write("| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB |\n|---|---|---|---|---|---|\n")
    for name, r in rows.items():
        md.write(f"| {name} | {r['requests_per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['peak_rss_kb']/1024:.1f} |\n")
    md.write(f"\nBearer GET / trivial route: {report['ratios']['bearer_get_vs_trivial']:.2f} (target ≥ 0.50). "
             f"Refresh grant target ≥ 5000/s: {'met' if report['targets_met']['refresh_grant_rps'] else 'NOT met'}.\n")
print(open("bench/results/partner-auth.md").read())
PY
