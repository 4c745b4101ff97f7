#!/usr/bin/env bash
# The benchmark suite (issue 11): Gatehouse on SQLite, then on a throwaway PostgreSQL, beside
# its limits (openssl speed, PBKDF2, the trivial route) and a peer (django-oauth-toolkit under
# gunicorn), all in one run on one machine with the same wrk client. Release build (or
# GATEHOUSE_BIN), wrk on loopback; data loaded with `gatehouse import` and the /provision CSV API.
#
#   bash bench/run.sh            # full mode (releases): 10 s per scenario, 1,000,000 serials and devices
#   bash bench/run.sh --quick    # quick mode (every day, under 5 minutes): 3 s, smaller sizes
#
# Needs wrk, curl, openssl, time (GNU, for `gatehouse import`'s own peak RSS), python3 (venv,
# pip from PyPI), python3-cryptography and Debian's postgresql. Writes bench/results/suite.md, bench/results/suite.json and BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=full
[ "${1:-}" = "--quick" ] && MODE=quick
if [ "$MODE" = quick ]; then
    export DURATION="${DURATION:-3s}"
    SMALL=2000 LARGE=100000 LARGE_ENABLED=3000 BLOB_MB=20 VERIFY_REQUESTS=12000 ONBOARD_REQUESTS=1500 LIMIT_SECONDS=1 SIM_AGENTS=2000
    DEVICES_SMALL=10000 DEVICES_LARGE=100000
else
    export DURATION="${DURATION:-10s}"
    SMALL=10000 LARGE=1000000 LARGE_ENABLED=80000 BLOB_MB=100 VERIFY_REQUESTS=100000 ONBOARD_REQUESTS=8000 LIMIT_SECONDS=3 SIM_AGENTS=5000
    DEVICES_SMALL=10000 DEVICES_LARGE=1000000
fi
STARTED="$(date +%s)"
source bench/lib.sh
source bench/scenarios/partner-auth.sh
source bench/scenarios/tiered-access.sh
source bench/scenarios/agent-activation.sh
source bench/scenarios/agent-simulator.sh
source bench/scenarios/serial-provisioning.sh
source bench/scenarios/signed-onboarding.sh
source bench/scenarios/peer.sh
source bench/scenarios/limits.sh
source bench/scenarios/scale.sh
source scripts/postgres-env.sh
trap 'stop_gatehouse; peer_stop; stop_throwaway_postgres; rm -rf "$WORK"' EXIT
log() { echo "== $(($(date +%s) - STARTED)) s: $*" >&2; }

log "limits"
limits_crypto "$LIMIT_SECONDS"
log "peer"
PEER_VERSIONS="$(peer_install)"
peer_start
peer_run | tee -a "$RESULTS"
peer_stop

serial_csv "$WORK/small.csv" small- 5 "$SMALL"
serial_csv "$WORK/large.csv" large- 7 "$LARGE"
# Scale (point 5): the large model's serials and the cameras by `gatehouse import` (JSON Lines).
serial_rows "$WORK/large-serials.jsonl" "$VENDOR" large large- 7 "$LARGE"
device_rows "$WORK/devices-small.jsonl" 1 "$DEVICES_SMALL"
device_rows "$WORK/devices-large.jsonl" $((DEVICES_SMALL + 1)) "$DEVICES_LARGE"
head -c $((BLOB_MB << 20)) /dev/urandom > "$WORK/blob"

# engine NAME STORAGE-ARGS...: every scenario against one server of that engine.
engine() {
    local name="$1" s="_$1"
    shift
    log "$name: import and start"
    partner_auth_import --data-dir "$WORK/data$s" "$@"
    # The first DEVICES_SMALL cameras: the scenarios up to the scale step run with them loaded.
    DATA="$WORK/data$s"
    bulk_import "device_import_small$s" "$WORK/devices-small.jsonl" "$@"
    start_gatehouse "$WORK/data$s" "$@"
    run "trivial$s" "" "/healthz" | tee -a "$RESULTS"
    log "$name: partner auth"
    partner_auth_setup
    run_scenarios "$s" bearer_get refresh_grant password_grant client_credentials | tee -a "$RESULTS"
    log "$name: tiered access"
    tiered_setup
    run_scenarios "$s" acc_get_channel lkey_get_channel channel_create | tee -a "$RESULTS"
    log "$name: agent activation"
    activation_setup "$name"
    activation_pairs "pairs$s" | tee -a "$RESULTS"
    log "$name: agent simulator"
    simulator_activations "simulator_activations$s" "$SIM_AGENTS"
    log "$name: serial provisioning"
    serial_vendor_setup small large csv cam1
    serial_import "serial_import_small$s" small "$WORK/small.csv"
    enable_serials "enable_small$s" small small- 5 "$SMALL"
    walk "activate_small$s" activate small small- 5 1 "$SMALL" "$DURATION" | tee -a "$RESULTS"
    serial_device_setup cam1 dev-1
    serial_content_setup cam1 "$WORK/blob" "$s"
    run "cik_content_list$s" "$WORK/cik.lua" "/provision/download?vendor=$VENDOR&model=cam1" | tee -a "$RESULTS"
    serial_downloads cam1 $((BLOB_MB << 20)) "$s"
    log "$name: signed onboarding"
    signed_run "signed_verify$s" verify "$VERIFY_REQUESTS" /api/v1.0/registration/onboard/verify 200 | tee -a "$RESULTS"
    signed_run "onboard_pem$s" onboard "$ONBOARD_REQUESTS" /api/v1.0/registration/onboard/request 201 | tee -a "$RESULTS"
    log "$name: scale ($LARGE serials by CSV, $LARGE by gatehouse import, $DEVICES_LARGE devices)"
    # The issue 6 figure: LARGE serials of the model csv by one CSV body, through the server.
    # Then the model large's serials and the cameras up to DEVICES_LARGE by `gatehouse import`
    # beside the running server; activation (walk and pairs) and the bearer check again at
    # that size. A failed load is reported (its targets "not measured") and the run goes on.
    if (serial_import "serial_import_large$s" csv "$WORK/large.csv") \
        && bulk_import "serial_gatehouse_import_large$s" "$WORK/large-serials.jsonl" "$@" \
        && bulk_import "device_import_large$s" "$WORK/devices-large.jsonl" "$@"; then
        enable_serials "enable_large$s" large large- 7 "$LARGE_ENABLED"
        # As many of the large model's serials as the small model's walk took (SMALL), so that
        # activate_large / activate_small compares equal work; then the rest of the enabled
        # ones for DURATION (activate_large_sustained: a longer walk also grows the write-ahead log).
        walk "activate_large$s" activate large large- 7 1 "$SMALL" "$DURATION" | tee -a "$RESULTS"
        walk "activate_large_sustained$s" activate large large- 7 $((SMALL + 1)) "$LARGE_ENABLED" "$DURATION" | tee -a "$RESULTS"
        activation_pairs "pairs_large$s" | tee -a "$RESULTS"
        run_scenarios "_large$s" bearer_get | tee -a "$RESULTS"
        echo "rss_at_scale$s $(mb "$(status_kb VmRSS)") MB" | tee -a "$FIGURES"
    fi
    echo "peak_rss$s $(mb "$(peak_rss_kb)") MB" | tee -a "$FIGURES"
    stop_gatehouse
    limits_fractions "$s"
}

engine sqlite
log "postgres: throwaway cluster"
start_throwaway_postgres
engine postgres --database-url "$THROWAWAY_POSTGRES_URL"
stop_throwaway_postgres
log "report"

mkdir -p bench/results
SPEC="$(python3 bench/suite_spec.py "$MODE" "$LARGE" "$DEVICES_LARGE")"
export BENCH_MODE="$MODE" BENCH_SIZES="small model $SMALL serials, large model $LARGE serials by gatehouse import ($LARGE_ENABLED enabled and activated) and $LARGE by one CSV body, $DEVICES_SMALL then $DEVICES_LARGE cameras by gatehouse import, $SIM_AGENTS agents by gatehouse agent simulate, content blob $BLOB_MB MB"
BENCH_DATABASE="SQLite and PostgreSQL" BENCH_NOTE="$MODE mode ($BENCH_SIZES); each engine against its own server; peer: $PEER_VERSIONS under gunicorn (2 workers, gthread, 4 threads each) on SQLite, the same wrk client; peer RSS is the sum of gunicorn's processes; rates of walks count 200 answers, each serial used once." \
    python3 bench/report.py "$RESULTS" bench/results/suite "Benchmark suite ($MODE mode)" "$SPEC" "$FIGURES" >/dev/null
ELAPSED=$(($(date +%s) - STARTED))
python3 bench/benchmarks_md.py "$MODE" "$ELAPSED" > BENCHMARKS.md
cat bench/results/suite.md
log "done in $ELAPSED s"
