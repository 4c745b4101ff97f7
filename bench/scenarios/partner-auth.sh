# Partner-auth scenarios (issue 3): a dealer and its API client by `gatehouse import`, then the
# password, refresh and client_credentials grants and a bearer-authenticated GET. Source after
# bench/lib.sh.
PARTNER_SECRET="bench-client-secret-0123456789"
PARTNER_PASSWORD="bench password"

# partner_auth_import [STORAGE-ARGS...]: loads the dealer, its user and client with `gatehouse import`.
partner_auth_import() {
    cat > "$WORK/partner-fixture.json" <<JSON
{"version": 1,
 "tenants": [{"key": "bench-res", "kind": "reseller", "name": "Bench reseller", "features": {"generate_access_token": true}},
             {"key": "bench-acct", "kind": "account", "parent": "bench-res", "name": "Bench account"}],
 "users": [{"email": "dealer@bench.example", "tenant": "bench-res", "name": "Dealer", "permissions": ["generate_access_token"], "password": "$PARTNER_PASSWORD"}],
 "clients": [{"client_id": "bench", "tenant": "bench-res", "name": "Bench", "scopes": ["read", "write"], "provisioning": true, "secret": "$PARTNER_SECRET"}]}
JSON
    "$BIN" import "$WORK/partner-fixture.json" "$@" >/dev/null
}

# partner_auth_setup: signs the dealer in (password grant) and sets up the scenarios bearer_get,
# refresh_grant, password_grant and client_credentials for run_scenarios.
partner_auth_setup() {
    local basic login access
    basic="Basic $(printf 'bench:%s' "$PARTNER_SECRET" | base64 -w0)"
    local token=/oauth/token password="grant_type=password&scope=write&username=dealer@bench.example&password=bench%20password"
    login="$(curl -fs -X POST -H "Authorization: $basic" "http://127.0.0.1:$PORT$token?$password")"
    access="$(json_field access_token <<<"$login")"
    # A pool of refresh tokens, as for the peer (bench/lib.sh, lua_refresh_pool).
    sign_ins 40 curl -fs -X POST -H "Authorization: $basic" "http://127.0.0.1:$PORT$token?$password" > "$WORK/partner-refresh-tokens"
    lua_refresh_pool "$WORK/partner-refresh.lua" POST "$token?grant_type=refresh_token&scope=write&refresh_token=REFRESH" "" \
        "$WORK/partner-refresh-tokens" Authorization "$basic"
    lua_request "$WORK/partner-password.lua" POST "$token?$password" "" Authorization "$basic"
    lua_request "$WORK/partner-client.lua" POST "$token?grant_type=client_credentials" "" Authorization "$basic"
    lua_request "$WORK/partner-bearer.lua" GET /rest/v2.2/users/self "" Authorization "Bearer $access"
    SCENARIO_bearer_get="$WORK/partner-bearer.lua /rest/v2.2/users/self"
    SCENARIO_refresh_grant="$WORK/partner-refresh.lua $token"
    SCENARIO_password_grant="$WORK/partner-password.lua $token"
    SCENARIO_client_credentials="$WORK/partner-client.lua $token"
}
