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
source bench/scenarios/serial-provisioning.sh
LARGE_ENABLED="${LARGE_ENABLED:-80000}"
BLOB_MB=100

# The serial lists and the blob, made before the server starts.
serial_csv "$WORK/small.csv" small- 5 10000
serial_csv "$WORK/large.csv" large- 7 1000000
head -c $((BLOB_MB << 20)) /dev/urandom > "$WORK/blob"

trap 'stop_gatehouse; rm -rf "$WORK"' EXIT
start_gatehouse "$WORK/data"
serial_vendor_setup small large cam1

# 10,000 serials.
call 205 -H "$VT" -H "$CSV" --data-binary @"$WORK/small.csv" "$URL/provision/manage/model/small/" >/dev/null
enable_serials enable_10k small small- 5 10000
walk activate_10k activate small small- 5 1 10000 "$DURATION" | tee -a "$RESULTS"

# 1,000,000 serials, by one timed CSV body.
serial_import import_1m large "$WORK/large.csv"
enable_serials enable_1m large large- 7 "$LARGE_ENABLED"
walk activate_1m activate large large- 7 1 "$LARGE_ENABLED" "$DURATION" | tee -a "$RESULTS"

# A device of model cam1 and its content: a small entry and the 100 MB blob.
serial_device_setup cam1 dev-1
serial_content_setup cam1 "$WORK/blob"

# The content list against the trivial route.
LIST="/provision/download?vendor=$VENDOR&model=cam1"
call 200 -H "X-Exosite-CIK: $CIK" "$URL$LIST" | grep -qx 'fw100' || { echo "the content list lacks fw100" >&2; exit 1; }
run trivial "" "/healthz" | tee -a "$RESULTS"
run content_list "$WORK/cik.lua" "$LIST" | tee -a "$RESULTS"

# Three downloads of the blob; memory before, after and at its peak in between.
serial_downloads cam1 $((BLOB_MB << 20)) ""

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
