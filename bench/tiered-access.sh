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
source bench/scenarios/tiered-access.sh
trap 'stop_gatehouse; rm -rf "$WORK"' EXIT
start_gatehouse "$WORK/data"
tiered_setup
run trivial "" "/healthz" | tee -a "$RESULTS"
run_scenarios "" acc_get_channel lkey_get_channel channel_create | tee -a "$RESULTS"

mkdir -p bench/results
python3 bench/report.py "$RESULTS" bench/results/tiered-access "Tiered-access benchmark" '{
  "ratios": {"acc_get_vs_trivial": ["acc_get_channel", "trivial"], "lkey_get_vs_trivial": ["lkey_get_channel", "trivial"]},
  "targets": [{"label": "Acc GET /api/v4/channel/ / trivial route", "kind": "ratio", "key": "acc_get_vs_trivial", "min": 0.5},
              {"label": "channel creation", "kind": "rps", "key": "channel_create", "min": 2000}]}'
