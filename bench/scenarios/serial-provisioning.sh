# Serial-provisioning scenarios (issue 6): the Exosite-style /provision API of a vendor's
# models: CSV serial import, enabling and activation walks (each serial once), a device's CIK
# content list, and content upload and download. Source after bench/lib.sh; set RESULTS and
# FIGURES (files the results and figures are appended to).
VENDOR="${VENDOR:-benchvendor}"
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

# serial_csv FILE PREFIX WIDTH COUNT: COUNT serials PREFIX+%0WIDTHd (1..COUNT) as CSV lines "serial,batch".
serial_csv() {
    python3 - "$@" <<'PY2'
import sys
path, prefix, width, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, "w") as f:
    for start in range(1, count + 1, 100_000):
        f.write("".join(f"{prefix}{i:0{width}d},batch-{i % 100}\n" for i in range(start, min(start + 100_000, count + 1))))
PY2
}

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
    local name="$1" mode="$2" model="$3" prefix="$4" width="$5" first="$6" last="$7" duration="$8"
    rm -f "$WORK/walk-done"
    result_line "$name" "$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -s "$WORK/walk.lua" "$URL/" -- \
        "$mode" "$VENDOR" "$model" "$prefix" "$width" "$first" "$last" "$THREADS" "$TOKEN" "$OWNER" "$WORK/walk-done")"
}
# enable_serials NAME MODEL PREFIX WIDTH COUNT: enables serials 1..COUNT; stops the script unless all were.
enable_serials() {
    local line errors total
    line="$(walk "$1" enable "$2" "$3" "$4" 1 "$5" 600s)"
    echo "$line" | tee -a "$RESULTS"
    read -r _ _ _ _ errors total _ <<<"$line"
    if [ "$errors" != 0 ] || [ "$total" != "$5" ]; then echo "enabled $total of $5 serials of $2 ($errors errors)" >&2; exit 1; fi
}

# serial_vendor_setup MODEL...: the vendor (a distributor with its vendor name and a token, TOKEN)
# and the account that owns the devices (OWNER), and the named models.
serial_vendor_setup() {
    URL="http://127.0.0.1:$PORT"
    local admin json distributor model
    admin="Authorization: Bearer $(cat "$DATA/admin-token")"
    json='Content-Type: application/json'
    distributor="$(call 201 -H "$admin" -H "$json" -d '{"kind":"distributor","parent_id":1,"name":"Bench vendor"}' "$URL/v1/tenants" | json_field id)"
    OWNER="$(call 201 -H "$admin" -H "$json" -d "{\"kind\":\"account\",\"parent_id\":$distributor,\"name\":\"Bench owner\"}" "$URL/v1/tenants" | json_field id)"
    call 201 -H "$admin" -H "$json" -d "{\"name\":\"$VENDOR\"}" "$URL/v1/tenants/$distributor/vendor" >/dev/null
    TOKEN="$(call 201 -H "$admin" -H "$json" -d '{"name":"bench"}' "$URL/v1/tenants/$distributor/vendor-tokens" | json_field token)"
    VT="X-Exosite-Token: $TOKEN"
    for model in "$@"; do
        call 205 -H "$VT" -H "$FORM" -d "model=$model" "$URL/provision/manage/model/" >/dev/null
    done
}

# serial_import FIGURE MODEL CSV-FILE: adds the serials by one CSV body; its time is the figure FIGURE (s).
serial_import() {
    local code seconds
    read -r code seconds <<<"$(curl -s -o "$WORK/answer" -w '%{http_code} %{time_total}' -H 'Expect:' -H "$VT" -H "$CSV" \
        --data-binary @"$3" "$URL/provision/manage/model/$2/")"
    if [ "$code" != 205 ]; then echo "the CSV of $3 got $code" >&2; head -c 500 "$WORK/answer" >&2; exit 1; fi
    echo "$1 $seconds s" | tee -a "$FIGURES"
}

# serial_device_setup MODEL SERIAL: a device of MODEL, enabled and activated; sets CIK and writes cik.lua.
serial_device_setup() {
    call 205 -H "$VT" -H "$CSV" --data-binary "$2,bench"$'\n' "$URL/provision/manage/model/$1/" >/dev/null
    call 200 -H "$VT" -H "$FORM" -d "enable=true&owner=$OWNER" "$URL/provision/manage/model/$1/$2" >/dev/null
    CIK="$(call 200 -H "$FORM" -d "vendor=$VENDOR&model=$1&sn=$2" "$URL/provision/activate" | tr -d '[:space:]')"
    [[ "$CIK" =~ ^[0-9a-f]{40}$ ]] || { echo "activation answered '$CIK', not a 40-hex CIK" >&2; exit 1; }
    echo "wrk.headers[\"X-Exosite-CIK\"] = \"$CIK\"" > "$WORK/cik.lua"
}

# serial_content_setup MODEL BLOB-FILE [SUFFIX]: a small content entry and the blob "fw100" of
# MODEL; the upload's time and the server's peak memory growth during it are figures (named with SUFFIX).
serial_content_setup() {
    local model="$1" blob="$2" suffix="${3:-}" rss_before code seconds
    call 205 -H "$VT" -H "$FORM" -d 'id=cfg1&meta=config' "$URL/provision/manage/content/$model/" >/dev/null
    call 205 -H "$VT" -H 'Content-Type: text/plain; charset=utf-8' --data-binary 'interval=60' "$URL/provision/manage/content/$model/cfg1" >/dev/null
    call 205 -H "$VT" -H "$FORM" -d 'id=fw100&meta=firmware' "$URL/provision/manage/content/$model/" >/dev/null
    rss_before="$(status_kb VmRSS)"
    reset_peak
    read -r code seconds <<<"$(curl -s -o "$WORK/answer" -w '%{http_code} %{time_total}' -H 'Expect:' -H "$VT" -H 'Content-Type: application/octet-stream' \
        --data-binary @"$blob" "$URL/provision/manage/content/$model/fw100")"
    if [ "$code" != 205 ]; then echo "the blob upload got $code" >&2; head -c 500 "$WORK/answer" >&2; exit 1; fi
    echo "upload_seconds$suffix $seconds s" | tee -a "$FIGURES"
    echo "upload_peak_rss_growth$suffix $(mb "$(($(status_kb VmHWM) - rss_before))") MB" | tee -a "$FIGURES"
}

# serial_downloads MODEL BYTES SUFFIX: three downloads of fw100 with curl (best speed counts); the
# server's memory before, after and at its peak in between, as figures named with SUFFIX.
serial_downloads() {
    local list="/provision/download?vendor=$VENDOR&model=$1" bytes="$2" suffix="$3" rss_before best=0 code size speed
    rss_before="$(status_kb VmRSS)"
    reset_peak
    for i in 1 2 3; do
        read -r code size speed <<<"$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
            -H "X-Exosite-CIK: $CIK" "$URL$list&id=fw100")"
        if [ "$code" != 200 ] || [ "$size" != "$bytes" ]; then echo "download $i: status $code, $size bytes" >&2; exit 1; fi
        speed="$(awk -v b="$speed" 'BEGIN {printf "%.1f", b / 1048576}')"
        echo "download_run$i$suffix $speed MB/s" | tee -a "$FIGURES"
        best="$(awk -v a="$best" -v b="$speed" 'BEGIN {print (b > a ? b : a)}')"
    done
    echo "download_best$suffix $best MB/s" | tee -a "$FIGURES"
    echo "download_rss_growth$suffix $(mb "$(($(status_kb VmRSS) - rss_before))") MB" | tee -a "$FIGURES"
    echo "download_peak_rss_growth$suffix $(mb "$(($(status_kb VmHWM) - rss_before))") MB" | tee -a "$FIGURES"
}
