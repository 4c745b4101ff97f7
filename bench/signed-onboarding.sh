#!/usr/bin/env bash
# Signed-onboarding benchmark (issue 7): signed verify and onboarding with a PEM certificate
# (a new P-256 key and certificate, the key encrypted with PBES2 / PBKDF2-HMAC-SHA256 at
# 10,000 iterations), release build, embedded SQLite, wrk on loopback, beside a trivial route
# in one run. Every request is a distinct request signed beforehand (a signed request is
# accepted once), and every onboarding uses its own registration code.
#
#   bash bench/signed-onboarding.sh       # needs wrk, curl and python3-cryptography
#
# Writes bench/results/signed-onboarding.md and bench/results/signed-onboarding.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/scenarios/signed-onboarding.sh
trap 'stop_gatehouse; rm -rf "$WORK"' EXIT
start_gatehouse "$WORK/data"
run trivial "" "/healthz" | tee -a "$RESULTS"
signed_run signed_verify verify "${VERIFY_REQUESTS:-100000}" /api/v1.0/registration/onboard/verify 200 | tee -a "$RESULTS"
signed_run onboard_pem onboard "${ONBOARD_REQUESTS:-8000}" /api/v1.0/registration/onboard/request 201 | tee -a "$RESULTS"

mkdir -p bench/results
BENCH_NOTE="all scenarios in one run against one server; every signed request is distinct and signed beforehand, every onboarding has its own registration code; PBKDF2-HMAC-SHA256 at 10,000 iterations for the PEM key." \
python3 bench/report.py "$RESULTS" bench/results/signed-onboarding "Signed-onboarding benchmark" '{
  "ratios": {"verify_vs_trivial": ["signed_verify", "trivial"], "onboard_vs_trivial": ["onboard_pem", "trivial"]},
  "targets": [{"label": "signed verify", "kind": "rps", "key": "signed_verify", "min": 3000},
              {"label": "onboarding with a PEM certificate", "kind": "rps", "key": "onboard_pem", "min": 300}]}'
