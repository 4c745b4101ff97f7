# The peer (issue 11): django-oauth-toolkit under gunicorn (2 workers, gthread with 4 threads each,
# so connections are kept alive as with Gatehouse) on SQLite, installed
# into a throwaway virtual environment from PyPI, driven by the same wrk client for the
# password grant, the refresh grant, client_credentials and a bearer-protected GET. Source
# after bench/lib.sh.
PEER_SECRET="bench-peer-secret-0123456789"
PEER_PASSWORD="bench password"
PEER=0
PEER_VENV="${PEER_VENV:-$WORK/peer-venv}"

# peer_install: the virtual environment (PEER_VENV: reused when given and present, else a
# throwaway one in WORK); prints the versions.
peer_install() {
    if [ ! -x "$PEER_VENV/bin/gunicorn" ]; then
        python3 -m venv "$PEER_VENV"
        "$PEER_VENV/bin/pip" install -q --disable-pip-version-check django django-oauth-toolkit gunicorn >&2
    fi
    "$PEER_VENV/bin/python" -c 'import django, oauth2_provider; print("django", django.get_version(), "django-oauth-toolkit", oauth2_provider.__version__)'
}

# peer_start: the database and fixture, then gunicorn on PEER_PORT; sets up the scenarios
# peer_password_grant, peer_refresh_grant, peer_client_credentials and peer_bearer_get.
peer_start() {
    export PEER_DB="$WORK/peer.sqlite3" PEER_PASSWORD_ROUNDS="${PEER_PASSWORD_ROUNDS:-600000}"
    (cd bench/peer && "$PEER_VENV/bin/python" setup_peer.py "$PEER_PASSWORD" "$PEER_SECRET") > "$WORK/peer-hash.json"
    PEER_PORT="$(free_port)"
    "$PEER_VENV/bin/gunicorn" --chdir bench/peer -w 2 --worker-class gthread --threads 4 -b "127.0.0.1:$PEER_PORT" --log-level error peerwsgi:application \
        >"$WORK/peer.out" 2>"$WORK/peer.err" &
    PEER=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PEER_PORT/me" && break; sleep 0.1; done
    local basic cc access form='application/x-www-form-urlencoded'
    basic="Basic $(printf 'bench:%s' "$PEER_SECRET" | base64 -w0)"
    cc="Basic $(printf 'benchcc:%s' "$PEER_SECRET" | base64 -w0)"
    # The bearer token from a sign-in of its own: the refresh grant's tokens (below) come from
    # others, whose access tokens it replaces in place (no rotation).
    access="$(curl -fs -H "Authorization: $basic" -d 'grant_type=password&scope=write&username=dealer&password=bench%20password' \
        "http://127.0.0.1:$PEER_PORT/o/token/" | json_field access_token)" || { echo "the peer's password grant failed" >&2; cat "$WORK/peer.err" >&2; exit 1; }
    curl -fs -H "Authorization: Bearer $access" "http://127.0.0.1:$PEER_PORT/me" >/dev/null || { echo "the peer's bearer GET failed" >&2; exit 1; }
    local token=/o/token/ base="http://127.0.0.1:$PEER_PORT"
    lua_request "$WORK/peer-password.lua" POST "$token" 'grant_type=password&scope=write&username=dealer&password=bench%20password' \
        Authorization "$basic" Content-Type "$form"
    # A pool of refresh tokens (bench/lib.sh, lua_refresh_pool): concurrent refreshes of one
    # token make django-oauth-toolkit answer 500 (AccessToken.DoesNotExist), which would
    # measure a race, not the grant; Gatehouse's scenario uses the same pool.
    sign_ins 40 curl -fs -H "Authorization: $basic" -d 'grant_type=password&scope=write&username=dealer&password=bench%20password' \
        "http://127.0.0.1:$PEER_PORT/o/token/" > "$WORK/peer-refresh-tokens"
    lua_refresh_pool "$WORK/peer-refresh.lua" POST "$token" "grant_type=refresh_token&scope=write&refresh_token=REFRESH" \
        "$WORK/peer-refresh-tokens" Authorization "$basic" Content-Type "$form"
    lua_request "$WORK/peer-client.lua" POST "$token" grant_type=client_credentials Authorization "$cc" Content-Type "$form"
    lua_request "$WORK/peer-bearer.lua" GET /me "" Authorization "Bearer $access"
    SCENARIO_peer_password_grant="$WORK/peer-password.lua $token $base"
    SCENARIO_peer_refresh_grant="$WORK/peer-refresh.lua $token $base"
    SCENARIO_peer_client_credentials="$WORK/peer-client.lua $token $base"
    SCENARIO_peer_bearer_get="$WORK/peer-bearer.lua /me $base"
}

# peer_run: the four scenarios, named peer_*; the peak RSS column is the sum of gunicorn's processes.
peer_run() {
    local saved="$SERVER" name
    SERVER="$PEER"
    for name in peer_password_grant peer_refresh_grant peer_client_credentials peer_bearer_get; do
        run_scenarios "" "$name" | peer_rss
    done
    SERVER="$saved"
}

# peer_rss: replaces the last column of a result line with the peak RSS of gunicorn's master and workers.
peer_rss() {
    local line total=0 pid
    read -r line
    for pid in "$PEER" $(pgrep -P "$PEER"); do total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0))); done
    echo "${line% *} $total"
}

peer_stop() {
    if [ "$PEER" != 0 ]; then kill "$PEER" 2>/dev/null || true; wait "$PEER" 2>/dev/null || true; PEER=0; fi
}
