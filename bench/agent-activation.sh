#!/usr/bin/env bash
# Agent-activation benchmark (issue 5): activation-token issue plus redemption pairs, each pair
# an operator's POST /vsaas/api/v2/agent-activation-tokens followed by an agent's POST
# /vsaas/api/v2/agents/activate with that token (a new camera each), against the trivial route;
# release build, wrk on loopback; on the embedded SQLite and on a throwaway PostgreSQL.
#
#   bash bench/agent-activation.sh     # needs wrk, curl, python3 and Debian's postgresql
#
# Writes bench/results/agent-activation.md and bench/results/agent-activation.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/scenarios/agent-activation.sh
source scripts/postgres-env.sh

# bench_engine NAME EXTRA-SERVE-ARGS...: one server; trivial route, then pairs.
bench_engine() {
    local name="$1"; shift
    start_gatehouse "$WORK/data-$name" "$@"
    activation_setup "$name"
    run "trivial_$name" "" "/healthz" | tee -a "$RESULTS"
    activation_pairs "pairs_$name" | tee -a "$RESULTS"
    stop_gatehouse
}

trap 'stop_gatehouse; stop_throwaway_postgres; rm -rf "$WORK"' EXIT
bench_engine sqlite
start_throwaway_postgres
bench_engine postgres --database-url "$THROWAWAY_POSTGRES_URL"

mkdir -p bench/results
BENCH_DATABASE="SQLite and PostgreSQL" BENCH_NOTE="each engine against its own server; pairs/s counts redemptions that made a camera (every pair is two requests)." \
python3 bench/report.py "$RESULTS" bench/results/agent-activation "Agent-activation benchmark" '{
  "ratios": {"pairs_vs_trivial_sqlite": ["pairs_sqlite", "trivial_sqlite"]},
  "targets": [{"label": "token issue + redemption pairs, SQLite", "kind": "rps", "key": "pairs_sqlite", "min": 2000},
              {"label": "token issue + redemption pairs, PostgreSQL", "kind": "rps", "key": "pairs_postgres", "min": 1000}]}'
