"""Writes a benchmark's Markdown and JSON report from the lines `run` printed.

usage: report.py RESULTS OUT-BASE TITLE SPEC-JSON
SPEC-JSON: {"ratios": {"name": ["scenario", "baseline"]},
            "targets": [{"label": "...", "kind": "rps"|"ratio", "key": "scenario or ratio name", "min": number}]}
"""
import json, os, platform, sys

results, base, title, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
rows = {}
for line in open(results):
    name, rps, p50, p99, errors, total, rss = line.split()
    rows[name] = {"requests_per_second": float(rps), "p50_ms": float(p50), "p99_ms": float(p99),
                  "errors": int(errors), "requests": int(total), "peak_rss_kb": int(rss)}
ratios = {name: rows[a]["requests_per_second"] / rows[b]["requests_per_second"] for name, (a, b) in spec.get("ratios", {}).items()}
targets = []
for target in spec.get("targets", []):
    value = rows[target["key"]]["requests_per_second"] if target["kind"] == "rps" else ratios[target["key"]]
    targets.append({**target, "value": value, "met": value >= target["min"]})
report = {
    "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                "cpu": next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")},
    "settings": {"duration": os.environ.get("DURATION", "10s"), "connections": int(os.environ.get("CONNECTIONS", "32")),
                 "threads": int(os.environ.get("THREADS", "1")), "database": os.environ.get("BENCH_DATABASE", "SQLite"), "build": "release"},
    "results": rows, "ratios": ratios, "targets": targets,
}
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as md:
    md.write(f"# {title}\n\n")
    md.write(f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu']}. Release build, {report['settings']['database']}, wrk "
             f"-t{report['settings']['threads']} -c{report['settings']['connections']} -d{report['settings']['duration']}, loopback, "
             + os.environ.get("BENCH_NOTE", "all scenarios in one run against one server.") + "\n\n")
    md.write("| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB |\n|---|---|---|---|---|---|\n")
    for name, r in rows.items():
        md.write(f"| {name} | {r['requests_per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['peak_rss_kb']/1024:.1f} |\n")
    md.write("\n| target | measured | needed | |\n|---|---|---|---|\n")
    for t in targets:
        shown = f"{t['value']:.0f}/s" if t["kind"] == "rps" else f"{t['value']:.2f}"
        needed = f"≥ {t['min']}/s" if t["kind"] == "rps" else f"≥ {t['min']:.2f}"
        md.write(f"| {t['label']} | {shown} | {needed} | {'met' if t['met'] else 'NOT met'} |\n")
print(open(base + ".md").read())
