# Shared pieces of the benchmark scripts: the release binary (GATEHOUSE_BIN, else a release
# build), a free port, a server to start and stop, wrk with a one-line result, and the
# server's peak RSS. Source it from a script under bench/.
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
# wrk's answer timeout: long enough for a password grant queued behind 32 connections' hashing.
TIMEOUT="${TIMEOUT:-10s}"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [ -n "${GATEHOUSE_BIN:-}" ]; then
    BIN="$GATEHOUSE_BIN"
    [ -x "$BIN" ] || { echo "GATEHOUSE_BIN=$BIN is not an executable" >&2; exit 1; }
else
    swift build -c release --product gatehouse >/dev/null
    BIN="$(swift build -c release --show-bin-path)/gatehouse"
fi
WORK="$(mktemp -d /tmp/gatehouse-bench.XXXXXX)"
SERVER=0
# Result lines and figures ("name value unit") of the run, for bench/report.py.
RESULTS="$WORK/results.txt"
FIGURES="$WORK/figures.txt"
: > "$RESULTS"
: > "$FIGURES"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status, summary.requests))
end
LUA
# counted.lua: a `done` for scripts that count answers themselves, in the globals `counted` and
# `failed` of each thread (append it to a script that keeps them and fills `threads` in setup).
cat > "$WORK/counted.lua" <<'LUA'
function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, thread in ipairs(threads) do total = total + thread:get("counted"); bad = bad + thread:get("failed") end
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", total / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, total))
end
LUA

# lua_request FILE METHOD PATH BODY [HEADER-NAME HEADER-VALUE]...: a wrk script sending one request.
lua_request() {
    local file="$1"
    {
        echo "wrk.method = \"$2\""
        echo "wrk.path = \"$3\""
        [ -n "$4" ] && echo "wrk.body = '$4'"
        shift 4
        while [ $# -ge 2 ]; do echo "wrk.headers[\"$1\"] = \"$2\""; shift 2; done
    } > "$file"
}

# lua_refresh_pool FILE METHOD PATH BODY TOKENS [HEADER-NAME HEADER-VALUE]...: a wrk script
# for a refresh grant with a pool of refresh tokens (TOKENS: one per line): each connection
# takes a free one, and the answer's refresh_token (not rotated) goes back to the pool, so
# no two requests under way refresh the same token (django-oauth-toolkit answers 500 to
# concurrent refreshes of one token). REFRESH in PATH or BODY stands for the token.
lua_refresh_pool() {
    local file="$1" method="$2" path="$3" body="$4" tokens="$5"
    shift 5
    {
        printf 'local free = {'
        sed 's/.*/"&",/' "$tokens" | tr -d '\n'
        echo '}'
        echo 'local all = {}; for i, t in ipairs(free) do all[i] = t end'
        echo "local method, path, body = \"$method\", \"$path\", '$body'"
        printf 'local headers = {'
        while [ $# -ge 2 ]; do printf '["%s"] = "%s", ' "$1" "$2"; shift 2; done
        echo '}'
        cat <<'LUA'
request = function()
  local t = table.remove(free) or all[math.random(#all)]
  local b = nil
  if body ~= "" then b = (body:gsub("REFRESH", t)) end
  return wrk.format(method, (path:gsub("REFRESH", t)), headers, b)
end
response = function(status, headers, answer)
  local t = answer:match('"refresh_token"%s*:%s*"([^"]+)"')
  if t then table.insert(free, t) end
end
LUA
    } > "$file"
}

# sign_ins COUNT COMMAND...: runs COMMAND (a sign-in printing a JSON answer) COUNT times, two at
# a time, and prints each answer's refresh_token, one per line.
sign_ins() {
    local count="$1"
    shift
    # Each answer in one write of its own (small writes to a pipe do not interleave).
    seq 1 "$count" | xargs -P2 -I{} sh -c 'out="$("$@")" && printf "%s\n" "$out"' sh "$@" | python3 -c 'import json,sys; [print(json.loads(l)["refresh_token"]) for l in sys.stdin if l.strip()]'
}

# run_scenarios SUFFIX NAME...: runs each named scenario; SCENARIO_<NAME> holds "LUA-FILE PATH [URL-BASE]".
run_scenarios() {
    local suffix="$1" name spec lua path base
    shift
    for name in "$@"; do
        spec="SCENARIO_$name"
        read -r lua path base <<<"${!spec}"
        run "$name$suffix" "$lua" "$path" "$base"
    done
}

# peak_rss_kb: the server's VmHWM (0 when there is no server process).
peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0; }

# result_line NAME WRK-OUTPUT: "name rps p50_ms p99_ms errors requests peak_rss_kb" from wrk's RESULT line.
result_line() {
    local rps p50 p99 errors total
    read -r _ rps p50 p99 errors total <<<"$(grep '^RESULT' <<<"$2")"
    echo "$1 $rps $p50 $p99 $errors $total $(peak_rss_kb)"
}

# run NAME LUA-SCRIPT-OR-EMPTY PATH [URL-BASE]: prints a result line (needs PORT and SERVER, the
# server's pid; URL-BASE defaults to Gatehouse on PORT), once the server is idle again.
run() {
    local name="$1" script="$2" path="$3" base="${4:-}"
    base="${base:-http://127.0.0.1:$PORT}"
    if [ -n "$script" ]; then cat "$script" "$WORK/report.lua" > "$WORK/run.lua"; else cp "$WORK/report.lua" "$WORK/run.lua"; fi
    result_line "$name" "$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency -s "$WORK/run.lua" "$base$path")"
    wait_idle "$SERVER"
}

# cpu_ticks PID: CPU ticks used so far by PID and its children (gunicorn's workers).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# wait_idle PID: waits (at most 60 s) until PID and its children use under a tenth of a core.
# Requests still queued when wrk stops (password grants hash for seconds after it) would
# otherwise take CPU from the next scenario.
wait_idle() {
    local before after
    [ "${1:-0}" != 0 ] || return 0
    for _ in $(seq 1 120); do
        before="$(cpu_ticks "$1")"
        sleep 0.5
        after="$(cpu_ticks "$1")"
        [ $((after - before)) -le 5 ] && return 0
    done
}

wait_healthy() {
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "the server did not start" >&2; cat "$WORK/server.err" >&2; return 1
}

# start_gatehouse DATA-DIR [SERVE-ARGS...]: starts `gatehouse serve` on free ports (main PORT and
# the mutual-TLS admin ADMIN_PORT) and waits until it answers; sets SERVER, PORT, ADMIN_PORT, DATA.
start_gatehouse() {
    DATA="$1"; shift
    PORT="$(free_port)"
    ADMIN_PORT="$(free_port)"
    "$BIN" serve --data-dir "$DATA" --port "$PORT" --admin-tls-port "$ADMIN_PORT" --rest-gateway-port 0 --log-level error "$@" \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER=$!
    wait_healthy
}

stop_gatehouse() {
    if [ "$SERVER" != 0 ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=0; fi
}

# json_field FIELD: reads JSON on stdin, prints one top-level field.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
