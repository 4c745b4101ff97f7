#!/usr/bin/env bash
# Partner-auth benchmark (issue 3): refresh grant and a bearer-authenticated GET against a
# trivial route, release build, embedded SQLite, wrk on loopback, side by side in one run.
#
#   bash bench/partner-auth.sh            # needs wrk (apt-get install wrk) and curl
#
# Writes bench/results/partner-auth.md and bench/results/partner-auth.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/scenarios/partner-auth.sh
partner_auth_import --data-dir "$WORK/data"
trap 'stop_gatehouse; rm -rf "$WORK"' EXIT
start_gatehouse "$WORK/data"
partner_auth_setup
run trivial "" "/healthz" | tee -a "$RESULTS"
run_scenarios "" bearer_get refresh_grant | tee -a "$RESULTS"

mkdir -p bench/results
python3 bench/report.py "$RESULTS" bench/results/partner-auth "Partner-auth benchmark" '{
  "ratios": {"bearer_get_vs_trivial": ["bearer_get", "trivial"]},
  "targets": [{"label": "refresh grant", "kind": "rps", "key": "refresh_grant", "min": 5000},
              {"label": "bearer GET / trivial route", "kind": "ratio", "key": "bearer_get_vs_trivial", "min": 0.5}]}'
