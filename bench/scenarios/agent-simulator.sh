# Agent-simulator scenario (issue 11, point 1): `gatehouse agent simulate` activates COUNT agents
# against the running server, each with an activation token of its own issued through the
# API beforehand: the agents' own HTTP client and durable state files drive the load, not wrk.
# Source after bench/lib.sh (needs BIN, PORT, DATA, WORK, FIGURES).

# simulator_activations NAME COUNT: issues COUNT tokens (bench/device_channel_fixture.py, a new
# operator with its own organization and preset), then times the simulator from its start until
# every agent's state file holds credentials (polled every 0.05 s). Prints the figures
# NAME (activations per second over that time) and NAME_seconds; stops the script unless every
# agent activated.
simulator_activations() {
    local name="$1" count="$2" state started finished activated=0 sim
    python3 bench/device_channel_fixture.py tokens "$PORT" "$(cat "$DATA/admin-token")" "$count" "$WORK/$name-tokens.txt"
    state="$(mktemp -d /dev/shm/gatehouse-sim-bench.XXXXXX 2>/dev/null || mktemp -d "$WORK/sim-state.XXXXXX")"
    started="$(date +%s%N)"
    "$BIN" agent simulate --count "$count" --server "http://127.0.0.1:$PORT" --tokens-file "$WORK/$name-tokens.txt" --state-dir "$state" \
        --no-channel --duration-seconds 0 --heartbeat-seconds 3600 >"$WORK/$name.out" 2>"$WORK/$name.err" &
    sim=$!
    # The agents start in order: until the last one holds credentials only its file is read
    # (a read of every state file costs the machine more than a poll should).
    for _ in $(seq 1 12000); do
        if grep -qs '"agent_key"' "$state/agent-$((count - 1))/state.json"; then
            activated="$( (grep -l '"agent_key"' "$state"/agent-*/state.json 2>/dev/null || true) | wc -l)"
            [ "$activated" -ge "$count" ] && break
        fi
        kill -0 "$sim" 2>/dev/null || break
        sleep 0.05
    done
    finished="$(date +%s%N)"
    kill -TERM "$sim" 2>/dev/null; wait "$sim" 2>/dev/null || true
    rm -rf "$state"
    if [ "$activated" -lt "$count" ]; then
        echo "$name: only $activated of $count simulated agents activated" >&2
        tail -5 "$WORK/$name.err" >&2
        exit 1
    fi
    echo "$name $(python3 -c "print(round($count / (($finished - $started) / 1e9), 1))") /s" | tee -a "$FIGURES"
    echo "${name}_seconds $(python3 -c "print(round(($finished - $started) / 1e9, 2))") s" | tee -a "$FIGURES"
}
