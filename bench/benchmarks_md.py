"""Writes BENCHMARKS.md (stdout) from bench/results/suite.json and suite.md: the latest
figures, how they were made, and on what machine.

usage: benchmarks_md.py MODE ELAPSED-SECONDS
"""
import json, os, platform, subprocess, sys

mode, elapsed = sys.argv[1], int(sys.argv[2])
report = json.load(open("bench/results/suite.json"))
memory = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
# Changes other than the run's own output (its results and this file) make the figures not the commit's.
dirty = [line for line in subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.splitlines()
         if line[3:] != "BENCHMARKS.md" and not line[3:].startswith("bench/results/")]
machine = report["machine"]
print(f"""# Benchmarks

The latest figures of the benchmark suite, written by `bash bench/run.sh{' --quick' if mode == 'quick' else ''}` \
({mode} mode, {elapsed} s) on commit {commit}{' with uncommitted changes' if dirty else ''}.

## How they were made

- One command: `bash bench/run.sh` (full mode, for releases) or `bash bench/run.sh --quick` (under 5
  minutes: 3 s per scenario and smaller data, named in the note under the title). `GATEHOUSE_BIN=…`
  uses a given binary instead of building release.
- Gatehouse release build on the embedded SQLite, then on a throwaway PostgreSQL cluster
  (`scripts/postgres-env.sh`, fsync off); a fresh server per engine. Dealers, users and API
  clients are loaded with `gatehouse import`, and so are the cameras and the large model's
  serials (JSON Lines device rows); the other serials with the /provision CSV API (one body per
  model), the rest through the public APIs.
- Load: wrk on loopback (one thread, {report['settings']['connections']} connections, the same client for the peer). A row
  counts requests per second; walks (`activate_*`, `enable_*`) and pairs count only successful
  answers, each serial used once. Errors are every non-2xx answer and socket error; peak RSS is
  the server's VmHWM since it started.
- The agent simulator: `gatehouse agent simulate --no-channel` activates agents against each
  engine's server, each with a token of its own issued through the API beforehand
  (`simulator_activations_*`: agents over the time from the simulator's start until every
  agent's state file holds its credentials; the agents' own HTTP client and state files, not wrk).
- Limits in the same run: `openssl speed -multi <cores>` for RSA-2048 and ECDSA P-256; for
  PBKDF2-HMAC-SHA256, SHA-256's bulk rate from the same tool over two compressions per iteration
  (the best any implementation can do); and the trivial route (`GET /healthz`). `*_of_limit_*` figures
  are a scenario's rate over its limit: signed verify over RSA-2048 verifications, PEM onboarding
  over one P-256 key, one P-256 signature and PBKDF2 at 10,000 iterations per request, the
  password grant over PBKDF2 at 600,000 iterations (Gatehouse's password hash).
- The peer: django-oauth-toolkit under gunicorn (2 workers, gthread with 4 threads each, so
  connections stay open as with Gatehouse), installed by the script into a
  throwaway virtual environment from PyPI, on SQLite; its password hasher is PBKDF2-SHA256 at
  600,000 iterations like Gatehouse's, client secrets are stored unhashed (so only the password
  grant pays the hash) and refresh tokens are not rotated (as in Gatehouse).
- Scale: the scenarios before the scale step run with the first cameras loaded; the scale step
  loads the rest of the cameras and the large model's serials with `gatehouse import` beside the
  running server (`*_import_*` figures: its time and the importer's own peak RSS), then runs the
  `*_large_*` rows: activation (walk and pairs) and the bearer check again, so the pairs of
  rows show whether rates fall with the data ({report['settings'].get('sizes', '')}).
  `activate_large` walks as many of the large model's serials as `activate_small` walks of the
  small one, so their ratio compares equal work; `activate_large_sustained` walks the rest of
  the enabled serials for the scenario's duration.
  `rss_at_scale_*` is the server's RSS after them; the peak RSS figures are its VmHWM over the
  whole run, the CSV body of the issue 6 figure included.

## Machine

{machine['cores']} cores, {machine['cpu']}, {memory} MB of memory, Linux {machine['kernel']}.

""")
print(open("bench/results/suite.md").read().split("\n", 1)[1].lstrip())
