"""Writes a benchmark's Markdown and JSON report from the lines `run` printed.

usage: report.py RESULTS OUT-BASE TITLE SPEC-JSON [FIGURES]
SPEC-JSON: {"ratios": {"name": ["scenario", "baseline"]},
            "targets": [{"label": "...", "kind": "rps"|"ratio"|"figure", "key": "scenario, ratio or figure name",
                         "min": number, "max": number}]}
A target needs "min", "max" or both. FIGURES (optional) is a file of measurements that are not wrk
runs, one "name value unit" a line (e.g. "download_best 812.4 MB/s"); they get their own table and
a "figures" entry in the JSON, and "figure" targets refer to them by name.
"""
import json, os, platform, sys

results, base, title, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
figures = {}
if len(sys.argv) > 5:
    for line in open(sys.argv[5]):
        if line.strip():
            name, value, unit = line.split(None, 2)
            figures[name] = {"value": float(value), "unit": unit.strip()}
rows = {}
for line in open(results):
    name, rps, p50, p99, errors, total, rss = line.split()
    rows[name] = {"requests_per_second": float(rps), "p50_ms": float(p50), "p99_ms": float(p99),
                  "errors": int(errors), "requests": int(total), "peak_rss_kb": int(rss)}
ratios = {name: rows[a]["requests_per_second"] / rows[b]["requests_per_second"] for name, (a, b) in spec.get("ratios", {}).items()
          if a in rows and b in rows and rows[b]["requests_per_second"] > 0}
targets = []
for target in spec.get("targets", []):
    kind = target["kind"]
    source = rows if kind == "rps" else figures if kind == "figure" else ratios
    if target["key"] not in source:  # a scenario that did not run (its failure is in the output)
        targets.append({**target, "value": None, "met": False})
        continue
    value = rows[target["key"]]["requests_per_second"] if kind == "rps" else figures[target["key"]]["value"] if kind == "figure" else ratios[target["key"]]
    met = ("min" not in target or value >= target["min"]) and ("max" not in target or value <= target["max"])
    targets.append({**target, "value": value, "met": met})
report = {
    "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                "cpu": next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")},
    "settings": {"duration": os.environ.get("DURATION", "10s"), "connections": int(os.environ.get("CONNECTIONS", "32")),
                 "threads": int(os.environ.get("THREADS", "1")), "database": os.environ.get("BENCH_DATABASE", "SQLite"), "build": "release"},
    "results": rows, "ratios": ratios, "targets": targets,
}
if os.environ.get("BENCH_MODE"):
    report["settings"]["mode"] = os.environ["BENCH_MODE"]
    report["settings"]["sizes"] = os.environ.get("BENCH_SIZES", "")
if figures:
    report["figures"] = figures
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as md:
    md.write(f"# {title}\n\n")
    md.write(f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu']}. Release build, {report['settings']['database']}, wrk "
             f"-t{report['settings']['threads']} -c{report['settings']['connections']} -d{report['settings']['duration']}, loopback, "
             + os.environ.get("BENCH_NOTE", "all scenarios in one run against one server.") + "\n\n")
    md.write("| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB |\n|---|---|---|---|---|---|\n")
    for name, r in rows.items():
        md.write(f"| {name} | {r['requests_per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {r['peak_rss_kb']/1024:.1f} |\n")
    if figures:
        md.write("\n| figure | value |\n|---|---|\n")
        for name, f in figures.items():
            md.write(f"| {name} | {f['value']:.2f} {f['unit']} |\n")
    md.write("\n| target | measured | needed | |\n|---|---|---|---|\n")
    for t in targets:
        unit = "/s" if t["kind"] == "rps" else " " + figures.get(t["key"], {"unit": ""})["unit"] if t["kind"] == "figure" else ""
        shown = "not measured" if t["value"] is None else f"{t['value']:.0f}/s" if t["kind"] == "rps" else f"{t['value']:.2f}{unit}"
        bound = lambda sign, x: f"{sign} {x:.2f}" if t["kind"] == "ratio" else f"{sign} {x}{unit}"
        needed = " and ".join(bound(sign, t[key]) for sign, key in (("≥", "min"), ("≤", "max")) if key in t)
        md.write(f"| {t['label']} | {shown} | {needed} | {'met' if t['met'] else 'NOT met'} |\n")
print(open(base + ".md").read())
