# Scale (issue 11, point 5): cameras of the device registry and serials loaded in bulk with
# `gatehouse import` (JSON Lines, read as a stream, written in multi-row batches inside one
# transaction). Source after bench/lib.sh; appends figures to FIGURES.
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

# device_rows FILE FIRST LAST: the document line (the fleet's operator and organization), then
# cameras cam-FIRST..cam-LAST of that operator.
device_rows() {
    python3 - "$@" <<'PY'
import sys
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write('{"version": 1, "tenants": [{"key": "bench-fleet", "kind": "distributor", "name": "Bench fleet"}, '
            '{"key": "bench-fleet-org", "kind": "account", "parent": "bench-fleet", "name": "Bench fleet org"}]}\n')
    for start in range(first, last + 1, 100_000):
        f.write("".join(f'{{"type": "camera", "operator": "bench-fleet", "organization": "bench-fleet-org", "name": "cam-{i}", '
                        f'"title": "Camera {i}", "serial": "FLEET{i:07d}", "version": "1.0"}}\n'
                        for i in range(start, min(start + 100_000, last + 1))))
PY
}

# serial_rows FILE VENDOR MODEL PREFIX WIDTH COUNT: serials PREFIX+%0WIDTHd (1..COUNT) of a model
# as import rows (the same serials as serial_csv).
serial_rows() {
    python3 - "$@" <<'PY'
import sys
path, vendor, model, prefix, width, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
with open(path, "w") as f:
    f.write('{"version": 1}\n')
    for start in range(1, count + 1, 100_000):
        f.write("".join(f'{{"type": "serial", "vendor": "{vendor}", "model": "{model}", "sn": "{prefix}{i:0{width}d}", "extra": "batch-{i % 100}"}}\n'
                        for i in range(start, min(start + 100_000, count + 1))))
PY
}

# bulk_import NAME FILE [STORAGE-ARGS...]: `gatehouse import FILE` into DATA (the running server's
# data, or the database the arguments name); its time and the importer's own peak RSS are the
# figures NAME_seconds and NAME_importer_peak_rss.
bulk_import() {
    local name="$1" file="$2" out seconds kb
    shift 2
    out="$( { /usr/bin/time -f 'TIME %e %M' "$BIN" import "$file" --data-dir "$DATA" "$@" >"$WORK/import.out"; } 2>&1 )" || {
        echo "gatehouse import $file failed: $out" >&2; return 1; }
    read -r _ seconds kb <<<"$(grep '^TIME' <<<"$out")"
    echo "${name}_seconds $seconds s" | tee -a "$FIGURES"
    echo "${name}_importer_peak_rss $(mb "$kb") MB" | tee -a "$FIGURES"
    cat "$WORK/import.out" >&2
}
