#!/usr/bin/env bash
# Serial-provisioning benchmark (issue 6): the Exosite-style /provision API of a vendor's models,
# release build, embedded SQLite, wrk and curl on loopback, all against one server:
#
#   enable_10k, activate_10k  model "small" holds exactly 10,000 serials (one CSV body); all of them
#                             are enabled (vendor token, owner = an account), then activated by
#                             POST /provision/activate, each serial once. The run ends when the
#                             10,000 serials are used up or after DURATION, whichever comes first.
#   import_1m                 model "large" gets 1,000,000 serials by one CSV body: one timed curl POST.
#   enable_1m, activate_1m    LARGE_ENABLED (default 80,000) of the large model's serials are enabled,
#                             then activated as above; the run ends when they are used up or after
#                             DURATION. activate_1m / activate_10k shows whether activation slows
#                             down with the number of serials in the model (the 1m run is the longer
#                             one, so more of its time goes to the database's housekeeping: the
#                             ratio can only err against it).
#   trivial, content_list     GET /healthz, and GET /provision/download?vendor=V&model=cam1 (the
#                             content list) with a device's X-Exosite-CIK.
#   upload_*, download_*      a 100 MB (100 MiB, random bytes) content upload (time, and the server's
#                             peak memory growth during it), then three downloads with curl (best
#                             speed counts), and the server's memory: VmRSS before and after the
#                             downloads, and its peak during them (VmHWM, reset through
#                             /proc/PID/clear_refs just before: a blob held whole and freed again
#                             shows there, not in VmRSS after).
#
# Activation and enabling rates count only 200 answers (a 40-hex CIK for activation) over the wall
# time from the first request to the last answer; each serial is sent once over all threads and
# connections, so running out of serials cannot inflate a rate, and errors are reported.
# MB is 2^20 bytes throughout.
#
#   bash bench/serial-provisioning.sh     # needs wrk (apt-get install wrk), curl and python3
#
# Writes bench/results/serial-provisioning.md and bench/results/serial-provisioning.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RESULTS="$WORK/results.txt"
FIGURES="$WORK/figures.txt"
: > "$RESULTS"
: > "$FIGURES"
LARGE_ENABLED="${LARGE_ENABLED:-80000}"
BLOB_MB=100
VENDOR=benchvendor
FORM='Content-Type: application/x-www-form-urlencoded; charset=utf-8'
CSV='Content-Type: text/csv; charset=utf-8'

# The walker: activates (or enables) serials PREFIX+%0WIDTHd for FIRST..LAST, each once over all
# threads and connections (thread i of STEP takes FIRST+i, FIRST+i+STEP, ...). A thread that has
# sent all its serials sends GET /healthz (answers recognised by their body, not counted) until
# each of its serials has an answer; when every thread is done (DONE-FILE), wrk is ended at once.
cat > "$WORK/walk.lua" <<'LUA'
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } walk_timespec;
int clock_gettime(int clock, walk_timespec *ts);
int getpid(void);
int kill(int pid, int sig);
]]
local ts = ffi.new("walk_timespec")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end

local threads = {}
function setup(thread) thread:set("index", #threads); table.insert(threads, thread) end

succeeded, failed, started, finished = 0, 0, 0, 0
local mode, vendor, model, prefix, width, next_sn, last, step, secret, owner, done_file
local sent, answered, stopped, verified, form, manage, idle = 0, 0, false, false, nil, nil, nil
function init(args)
  mode, vendor, model, prefix = args[1], args[2], args[3], args[4]
  width, next_sn, last, step = args[5], tonumber(args[6]) + index, tonumber(args[7]), tonumber(args[8])
  secret, owner, done_file = args[9], args[10], args[11]
  form = {["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"}
  manage = {["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8", ["X-Exosite-Token"] = secret}
end
function request()
  -- wrk calls request() once on its first thread to check it, and never sends that one.
  if index == 0 and not verified then verified = true; return wrk.format("GET", "/healthz") end
  if started == 0 then started = now() end
  if next_sn > last then
    idle = idle or wrk.format("GET", "/healthz")
    return idle
  end
  local sn = prefix .. string.format("%0" .. width .. "d", next_sn)
  next_sn = next_sn + step
  sent = sent + 1
  if mode == "activate" then
    return wrk.format("POST", "/provision/activate", form, "vendor=" .. vendor .. "&model=" .. model .. "&sn=" .. sn)
  end
  return wrk.format("POST", "/provision/manage/model/" .. model .. "/" .. sn, manage, "enable=true&owner=" .. owner)
end
function response(status, headers, body)
  if not (status == 200 and body:find('^{"status":"ok"')) then
    answered = answered + 1
    finished = now()
    local cik = body:match("^%s*([0-9a-f]+)%s*$")
    if status == 200 and (mode ~= "activate" or (cik and #cik == 40)) then
      succeeded = succeeded + 1
    else
      failed = failed + 1
      if failed <= 3 then io.stderr:write(mode .. " answered " .. status .. ": " .. body:sub(1, 200) .. "\n") end
    end
  end
  if next_sn > last and answered == sent and not stopped then
    stopped = true
    wrk.thread:stop()
    local f = io.open(done_file, "a"); f:write("x"); f:close()
    f = io.open(done_file, "r"); local n = #f:read("*a"); f:close()
    if n >= step then ffi.C.kill(ffi.C.getpid(), 2) end -- SIGINT: wrk stops waiting out -d
  end
end
function done(summary, latency, requests)
  local total, bad, first, final = 0, 0, math.huge, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("succeeded"); bad = bad + thread:get("failed")
    if thread:get("started") > 0 then first = math.min(first, thread:get("started")) end
    final = math.max(final, thread:get("finished"))
  end
  local rate = final > first and total / (final - first) or 0
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", rate, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    bad + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, total))
end
LUA

# The serial lists and the blob, made before the server starts.
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
with open(f"{work}/small.csv", "w") as f:
    f.write("".join(f"small-{i:05d},batch-{i % 100}\n" for i in range(1, 10_001)))
with open(f"{work}/large.csv", "w") as f:
    for start in range(1, 1_000_001, 100_000):
        f.write("".join(f"large-{i:07d},batch-{i % 100}\n" for i in range(start, start + 100_000)))
PY
head -c $((BLOB_MB << 20)) /dev/urandom > "$WORK/blob"

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
"$BIN" serve --data-dir "$WORK/data" --port "$PORT" --admin-tls-port 0 --rest-gateway-port 0 --log-level error >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_healthy

# call STATUS CURL-ARGS... URL: the answer's body on stdout; stops the script unless the answer has STATUS.
call() {
    local want="$1" code
    shift
    code="$(curl -s -o "$WORK/answer" -w '%{http_code}' -H 'Expect:' "$@")" || true
    if [ "$code" != "$want" ]; then
        echo "expected $want, got $code from ${*: -1}" >&2; head -c 500 "$WORK/answer" >&2; echo >&2
        exit 1
    fi
    cat "$WORK/answer"
}
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
status_kb() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$SERVER/status"; }
mb() { awk -v kb="$1" 'BEGIN {printf "%.2f", kb / 1024}'; }
# reset_peak: restarts the server's VmHWM from its VmRSS (if the kernel lets us, else it stays the peak since start).
reset_peak() {
    if ! echo 5 2>/dev/null > "/proc/$SERVER/clear_refs"; then
        echo "could not reset the server's peak RSS: the peak growth figures are over the peak since start" >&2
    fi
}

# walk NAME MODE MODEL PREFIX WIDTH FIRST LAST WRK-DURATION: prints a result line like `run`.
walk() {
    local name="$1" mode="$2" model="$3" prefix="$4" width="$5" first="$6" last="$7" duration="$8" out rps p50 p99 errors total
    rm -f "$WORK/walk-done"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -s "$WORK/walk.lua" "$URL/" -- \
        "$mode" "$VENDOR" "$model" "$prefix" "$width" "$first" "$last" "$THREADS" "$TOKEN" "$OWNER" "$WORK/walk-done" | grep '^RESULT')"
    read -r _ rps p50 p99 errors total <<<"$out"
    echo "$name $rps $p50 $p99 $errors $total $(status_kb VmHWM)"
}
# enable_serials NAME MODEL PREFIX WIDTH COUNT: enables serials 1..COUNT; stops the script unless all were.
enable_serials() {
    local line errors total
    line="$(walk "$1" enable "$2" "$3" "$4" 1 "$5" 600s)"
    echo "$line" | tee -a "$RESULTS"
    read -r _ _ _ _ errors total _ <<<"$line"
    if [ "$errors" != 0 ] || [ "$total" != "$5" ]; then echo "enabled $total of $5 serials of $2 ($errors errors)" >&2; exit 1; fi
}

# The vendor (a distributor with its vendor name and a token) and the account that owns the devices.
ADMIN="Authorization: Bearer $(cat "$WORK/data/admin-token")"
JSON='Content-Type: application/json'
DISTRIBUTOR="$(call 201 -H "$ADMIN" -H "$JSON" -d '{"kind":"distributor","parent_id":1,"name":"Bench vendor"}' "$URL/v1/tenants" | field id)"
OWNER="$(call 201 -H "$ADMIN" -H "$JSON" -d "{\"kind\":\"account\",\"parent_id\":$DISTRIBUTOR,\"name\":\"Bench owner\"}" "$URL/v1/tenants" | field id)"
call 201 -H "$ADMIN" -H "$JSON" -d "{\"name\":\"$VENDOR\"}" "$URL/v1/tenants/$DISTRIBUTOR/vendor" >/dev/null
TOKEN="$(call 201 -H "$ADMIN" -H "$JSON" -d '{"name":"bench"}' "$URL/v1/tenants/$DISTRIBUTOR/vendor-tokens" | field token)"
VT="X-Exosite-Token: $TOKEN"
for model in small large cam1; do
    call 205 -H "$VT" -H "$FORM" -d "model=$model" "$URL/provision/manage/model/" >/dev/null
done

# 10,000 serials.
call 205 -H "$VT" -H "$CSV" --data-binary @"$WORK/small.csv" "$URL/provision/manage/model/small/" >/dev/null
enable_serials enable_10k small small- 5 10000
walk activate_10k activate small small- 5 1 10000 "$DURATION" | tee -a "$RESULTS"

# 1,000,000 serials, by one timed CSV body.
read -r code seconds <<<"$(curl -s -o "$WORK/answer" -w '%{http_code} %{time_total}' -H 'Expect:' -H "$VT" -H "$CSV" \
    --data-binary @"$WORK/large.csv" "$URL/provision/manage/model/large/")"
if [ "$code" != 205 ]; then echo "the 1,000,000-serial CSV got $code" >&2; head -c 500 "$WORK/answer" >&2; exit 1; fi
echo "import_1m $seconds s" | tee -a "$FIGURES"
enable_serials enable_1m large large- 7 "$LARGE_ENABLED"
walk activate_1m activate large large- 7 1 "$LARGE_ENABLED" "$DURATION" | tee -a "$RESULTS"

# A device of model cam1 and its content: a small entry and the 100 MB blob.
call 205 -H "$VT" -H "$CSV" --data-binary $'dev-1,bench\n' "$URL/provision/manage/model/cam1/" >/dev/null
call 200 -H "$VT" -H "$FORM" -d "enable=true&owner=$OWNER" "$URL/provision/manage/model/cam1/dev-1" >/dev/null
CIK="$(call 200 -H "$FORM" -d "vendor=$VENDOR&model=cam1&sn=dev-1" "$URL/provision/activate" | tr -d '[:space:]')"
[[ "$CIK" =~ ^[0-9a-f]{40}$ ]] || { echo "activation answered '$CIK', not a 40-hex CIK" >&2; exit 1; }
call 205 -H "$VT" -H "$FORM" -d 'id=cfg1&meta=config' "$URL/provision/manage/content/cam1/" >/dev/null
call 205 -H "$VT" -H 'Content-Type: text/plain; charset=utf-8' --data-binary 'interval=60' "$URL/provision/manage/content/cam1/cfg1" >/dev/null
call 205 -H "$VT" -H "$FORM" -d 'id=fw100&meta=firmware' "$URL/provision/manage/content/cam1/" >/dev/null
rss_before_upload="$(status_kb VmRSS)"
reset_peak
read -r code seconds <<<"$(curl -s -o "$WORK/answer" -w '%{http_code} %{time_total}' -H 'Expect:' -H "$VT" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$WORK/blob" "$URL/provision/manage/content/cam1/fw100")"
if [ "$code" != 205 ]; then echo "the $BLOB_MB MB upload got $code" >&2; head -c 500 "$WORK/answer" >&2; exit 1; fi
echo "upload_seconds $seconds s" | tee -a "$FIGURES"
echo "upload_peak_rss_growth $(mb "$(($(status_kb VmHWM) - rss_before_upload))") MB" | tee -a "$FIGURES"

# The content list against the trivial route.
LIST="/provision/download?vendor=$VENDOR&model=cam1"
call 200 -H "X-Exosite-CIK: $CIK" "$URL$LIST" | grep -qx 'fw100' || { echo "the content list lacks fw100" >&2; exit 1; }
cat > "$WORK/list.lua" <<LUA
wrk.headers["X-Exosite-CIK"] = "$CIK"
LUA
run trivial "" "/healthz" | tee -a "$RESULTS"
run content_list "$WORK/list.lua" "$LIST" | tee -a "$RESULTS"

# Three downloads of the blob; memory before, after and at its peak in between.
rss_before="$(status_kb VmRSS)"
reset_peak
best=0
for i in 1 2 3; do
    read -r code size speed <<<"$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
        -H "X-Exosite-CIK: $CIK" "$URL$LIST&id=fw100")"
    if [ "$code" != 200 ] || [ "$size" != $((BLOB_MB << 20)) ]; then echo "download $i: status $code, $size bytes" >&2; exit 1; fi
    speed="$(awk -v b="$speed" 'BEGIN {printf "%.1f", b / 1048576}')"
    echo "download_run$i $speed MB/s" | tee -a "$FIGURES"
    best="$(awk -v a="$best" -v b="$speed" 'BEGIN {print (b > a ? b : a)}')"
done
echo "download_best $best MB/s" | tee -a "$FIGURES"
echo "download_rss_growth $(mb "$(($(status_kb VmRSS) - rss_before))") MB" | tee -a "$FIGURES"
echo "download_peak_rss_growth $(mb "$(($(status_kb VmHWM) - rss_before))") MB" | tee -a "$FIGURES"

mkdir -p bench/results
BENCH_NOTE="all scenarios in one run against one server; activation and enabling rates count 200 answers only, each serial used once, a run ending early when its serials are used up; figures: curl on loopback, MB = 2^20 bytes, RSS from /proc." \
python3 bench/report.py "$RESULTS" bench/results/serial-provisioning "Serial-provisioning benchmark" '{
  "ratios": {"activate_1m_vs_10k": ["activate_1m", "activate_10k"], "content_list_vs_trivial": ["content_list", "trivial"]},
  "targets": [{"label": "activation, model of 10,000 serials", "kind": "rps", "key": "activate_10k", "min": 3000},
              {"label": "activation, model of 1,000,000 serials", "kind": "rps", "key": "activate_1m", "min": 3000},
              {"label": "activation at 1,000,000 / at 10,000 serials", "kind": "ratio", "key": "activate_1m_vs_10k", "min": 0.8},
              {"label": "CIK content list / trivial route", "kind": "ratio", "key": "content_list_vs_trivial", "min": 0.5},
              {"label": "100 MB download (best of 3)", "kind": "figure", "key": "download_best", "min": 500},
              {"label": "server memory growth during the downloads (peak)", "kind": "figure", "key": "download_peak_rss_growth", "max": 50},
              {"label": "1,000,000 serials by one CSV body", "kind": "figure", "key": "import_1m", "max": 60}]}' "$FIGURES"
