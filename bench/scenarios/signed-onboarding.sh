# Signed-onboarding scenarios (issue 7): signed verify and onboarding with a PEM certificate,
# every request distinct and signed beforehand (bench/signed_onboarding_fixture.py). Source
# after bench/lib.sh; needs python3-cryptography.
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography is needed: apt-get install python3-cryptography" >&2; exit 1; }

# signed.lua: sends the lines of the file given after "--" in order, once each; answers other
# than the expected status count as errors. A scenario that runs out of signed requests asks
# for a path that does not exist, which counts as an error.
cat > "$WORK/signed.lua" <<'LUA'
local lines, index, expected = {}, 0, 200
counted, failed = 0, 0
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  expected = tonumber(args[2])
end
function request()
  index = index + 1
  local line = lines[index]
  if line == nil then return wrk.format("GET", "/bench-out-of-signed-requests") end
  local code, signature, application, body = line:match("^(%S+) (%S+) (%S+) (.*)$")
  return wrk.format("POST", wrk.path, {["Authorization"] = "Bearer " .. code, ["Content-Type"] = "application/json",
    ["X-Agrirouter-ApplicationId"] = application, ["X-Agrirouter-Signature"] = signature}, body)
end
function response(status)
  if status == expected then counted = counted + 1 else failed = failed + 1 end
end
LUA
cat "$WORK/counted.lua" >> "$WORK/signed.lua"

# signed_run NAME KIND COUNT PATH STATUS: prepares COUNT signed requests of KIND (verify or
# onboard) and sends them; prints a result line.
signed_run() {
    local name="$1" kind="$2" count="$3" path="$4" status="$5"
    python3 bench/signed_onboarding_fixture.py "$PORT" "$(cat "$DATA/admin-token")" "$kind" "$count" "$WORK/$name.txt"
    result_line "$name" "$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/signed.lua" "http://127.0.0.1:$PORT$path" -- "$WORK/$name.txt" "$status")"
}
