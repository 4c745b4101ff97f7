# Shared pieces of the benchmark scripts: release build, a free port, wrk with a one-line
# result, and the server's peak RSS. Source it from a script under bench/.
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
swift build -c release --product gatehouse >/dev/null
BIN="$(swift build -c release --show-bin-path)/gatehouse"
WORK="$(mktemp -d /tmp/gatehouse-bench.XXXXXX)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status, summary.requests))
end
LUA

# run NAME LUA-SCRIPT-OR-EMPTY PATH: prints "name rps p50_ms p99_ms errors requests peak_rss_kb"
# (needs PORT and SERVER, the server's pid).
run() {
    local name="$1" script="$2" path="$3" out
    if [ -n "$script" ]; then cat "$script" "$WORK/report.lua" > "$WORK/run.lua"; else cp "$WORK/report.lua" "$WORK/run.lua"; fi
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/run.lua" "http://127.0.0.1:$PORT$path" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$out"
    echo "$name $rps $p50 $p99 $errors $total $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)"
}

wait_healthy() {
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "the server did not start" >&2; cat "$WORK/server.err" >&2; return 1
}
