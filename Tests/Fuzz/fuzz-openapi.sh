#!/usr/bin/env bash
# Fuzzes every operation of Gatehouse's OpenAPI document with schemathesis (from PyPI)
# against a running server. OpenAPIFuzzTests runs it from `swift test`; by hand:
#
#   Tests/Fuzz/fuzz-openapi.sh install                 # make the virtualenv (cached)
#   GH_FUZZ_ADMIN_TOKEN=… … Tests/Fuzz/fuzz-openapi.sh run http://127.0.0.1:8080 [schemathesis run options]
#
# The credentials schemathesis sends are read from GH_FUZZ_* variables (see schemathesis.toml).
# The virtualenv lives in $GATEHOUSE_FUZZ_VENV (default .build/fuzz-venv), made with Debian's
# python3 -m venv (package python3-venv) and reused while it holds the pinned version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=4.32.5
venv=${GATEHOUSE_FUZZ_VENV:-$root/.build/fuzz-venv}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

install() {
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9  # one installer at a time
    if [ -x "$venv/bin/schemathesis" ] && [ "$(cat "$venv/.gatehouse-version" 2>/dev/null)" = "$version" ]; then
        return 0
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 2; }
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --timeout 30 "schemathesis==$version"; then
        echo "pip could not install schemathesis==$version from PyPI" >&2
        rm -rf "$venv"
        exit 3
    fi
    echo "$version" >"$venv/.gatehouse-version"
}

case "${1:-}" in
install)
    install
    ;;
run)
    [ $# -ge 2 ] || { echo "usage: $0 run BASE_URL [schemathesis run options]" >&2; exit 64; }
    url=$2
    shift 2
    install
    export SCHEMATHESIS_HOOKS="$here/hooks.py"
    exec "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" run \
        "$root/Sources/GatehouseServer/Resources/openapi.yaml" --url "$url" "$@"
    ;;
*)
    echo "usage: $0 install | run BASE_URL [schemathesis run options]" >&2
    exit 64
    ;;
esac
