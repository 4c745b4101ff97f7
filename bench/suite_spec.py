"""The ratios and targets of the benchmark suite (bench/run.sh) for bench/report.py.

usage: suite_spec.py MODE LARGE-SERIALS LARGE-DEVICES  (prints the spec JSON)
Targets: those of issues 3-7 on the engines they name, Gatehouse at least 10x the peer on
every shared scenario but the password grant (there at least 1x, at the same hash strength),
and a peak RSS under 150 MB (with the large model's serials and the devices loaded).
"""
import json, sys

mode, large, devices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ratios, targets = {}, []


def rps(label, key, low):
    targets.append({"label": label, "kind": "rps", "key": key, "min": low})


def ratio(label, name, a, b, low):
    ratios[name] = [a, b]
    targets.append({"label": label, "kind": "ratio", "key": name, "min": low})


def figure(label, key, **bounds):
    targets.append({"label": label, "kind": "figure", "key": key, **bounds})


for engine, title in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
    s = "_" + engine
    ratios[f"bearer_get_vs_trivial{s}"] = [f"bearer_get{s}", f"trivial{s}"]
    ratios[f"acc_get_vs_trivial{s}"] = [f"acc_get_channel{s}", f"trivial{s}"]
    ratios[f"cik_list_vs_trivial{s}"] = [f"cik_content_list{s}", f"trivial{s}"]
    ratios[f"activate_large_vs_small{s}"] = [f"activate_large{s}", f"activate_small{s}"]
    ratios[f"bearer_get_large_vs_small{s}"] = [f"bearer_get_large{s}", f"bearer_get{s}"]
    ratios[f"pairs_large_vs_small{s}"] = [f"pairs_large{s}", f"pairs{s}"]
    for scenario, low in (("refresh_grant", 10), ("client_credentials", 10), ("bearer_get", 10), ("password_grant", 1)):
        ratio(f"{scenario} / peer, {title}" + (" (same hash strength)" if scenario == "password_grant" else ""),
              f"{scenario}_vs_peer{s}", scenario + s, "peer_" + scenario, low)
    figure(f"peak RSS with {devices:,} devices and {large:,} serials loaded, {title}", f"peak_rss{s}", max=150)

# Issues 3, 4, 6, 7: SQLite; issue 5: both engines.
rps("refresh grant, SQLite (issue 3)", "refresh_grant_sqlite", 5000)
targets.append({"label": "bearer GET / trivial route, SQLite (issue 3)", "kind": "ratio", "key": "bearer_get_vs_trivial_sqlite", "min": 0.5})
targets.append({"label": "Acc GET / trivial route, SQLite (issue 4)", "kind": "ratio", "key": "acc_get_vs_trivial_sqlite", "min": 0.5})
rps("channel creation, SQLite (issue 4)", "channel_create_sqlite", 2000)
rps("token issue + redemption pairs, SQLite (issue 5)", "pairs_sqlite", 2000)
rps("token issue + redemption pairs, PostgreSQL (issue 5)", "pairs_postgres", 1000)
rps("/provision/activate, small model, SQLite (issue 6)", "activate_small_sqlite", 3000)
rps("/provision/activate, large model, SQLite (issue 6)", "activate_large_sqlite", 3000)
rps("/provision/activate, large model, sustained, SQLite (issue 6)", "activate_large_sustained_sqlite", 3000)
targets.append({"label": "activation large / small model, SQLite (issue 6)", "kind": "ratio", "key": "activate_large_vs_small_sqlite", "min": 0.8})
targets.append({"label": "CIK content list / trivial route, SQLite (issue 6)", "kind": "ratio", "key": "cik_list_vs_trivial_sqlite", "min": 0.5})
figure("content download (best of 3), SQLite (issue 6)", "download_best_sqlite", min=500)
figure("server memory growth during the downloads, SQLite (issue 6)", "download_peak_rss_growth_sqlite", max=50)
if large >= 1_000_000:
    figure("1,000,000 serials by one CSV body, SQLite (issue 6)", "serial_import_large_sqlite", max=60)
rps("signed verify, SQLite (issue 7)", "signed_verify_sqlite", 3000)
rps("onboarding with a PEM certificate, SQLite (issue 7)", "onboard_pem_sqlite", 300)
print(json.dumps({"ratios": ratios, "targets": targets}))
