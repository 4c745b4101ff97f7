# Tiered-access scenarios (issue 4): an account by the super-admin API (mutual TLS on
# ADMIN_PORT), a channel, then Acc- and LKey-authenticated reads and channel creation.
# Source after bench/lib.sh.

# tiered_setup: the account, its license key (LKEY), a channel (CHANNEL_ID) and its watch token;
# sets up the scenarios acc_get_channel, lkey_get_channel and channel_create for run_scenarios.
tiered_setup() {
    local tls=(--cacert "$DATA/ca.pem" --cert "$DATA/superadmin-cert.pem" --key "$DATA/superadmin-key.pem") account channel acc
    for _ in $(seq 1 50); do curl -fs "${tls[@]}" "https://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null && break; sleep 0.1; done
    # No camera limit, so creation can run for the whole window.
    account="$(curl -fs "${tls[@]}" -X POST -H 'Content-Type: application/json' -d "{\"suid\":\"bench-$RANDOM@example.com\",\"usrc\":\"Bench\"}" \
        "https://127.0.0.1:$ADMIN_PORT/api/v2/admin/users/")"
    LKEY="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["license_key"]["value"])' <<<"$account")"
    channel="$(curl -fs -X POST -H "Authorization: LKey $LKEY" -H 'Content-Type: application/json' -d '{"name":"bench cam","meta":{"site":"bench"}}' \
        "http://127.0.0.1:$PORT/api/v3/channels/")"
    CHANNEL_ID="$(json_field id <<<"$channel")"
    acc="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_tokens"]["watch"])' <<<"$channel")"
    lua_request "$WORK/tiered-acc.lua" GET /api/v4/channel/ "" Authorization "Acc $acc"
    lua_request "$WORK/tiered-lkey.lua" GET "/api/v3/channels/$CHANNEL_ID/" "" Authorization "LKey $LKEY"
    lua_request "$WORK/tiered-create.lua" POST /api/v3/channels/ \
        '{"name":"bench","timezone":"Europe/Berlin","rec_mode":"on","source":{"url":"rtsp://10.0.0.1/stream","login":"admin","password":"pw"}}' \
        Authorization "LKey $LKEY" Content-Type application/json
    SCENARIO_acc_get_channel="$WORK/tiered-acc.lua /api/v4/channel/"
    SCENARIO_lkey_get_channel="$WORK/tiered-lkey.lua /api/v3/channels/$CHANNEL_ID/"
    SCENARIO_channel_create="$WORK/tiered-create.lua /api/v3/channels/"
}
