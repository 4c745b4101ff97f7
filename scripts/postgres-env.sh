# Functions to run a throwaway PostgreSQL cluster on a free loopback port (used by .ci/run
# and by developers: `source scripts/postgres-env.sh; start_throwaway_postgres`).
# Needs Debian's postgresql package; runs the server as the `postgres` system user.

start_throwaway_postgres() {
    local bin port
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    port="${THROWAWAY_POSTGRES_PORT:-}"
    if [ -z "$port" ]; then
        port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    fi
    THROWAWAY_POSTGRES_DIR="$(mktemp -d /tmp/gatehouse-pg.XXXXXX)"
    THROWAWAY_POSTGRES_BIN="$bin"
    chown postgres:postgres "$THROWAWAY_POSTGRES_DIR"
    runuser -u postgres -- "$bin/initdb" -D "$THROWAWAY_POSTGRES_DIR/data" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$bin/pg_ctl" -D "$THROWAWAY_POSTGRES_DIR/data" -l "$THROWAWAY_POSTGRES_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $THROWAWAY_POSTGRES_DIR -c max_connections=300 -c fsync=off" start >/dev/null
    runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" gatehouse_test
    THROWAWAY_POSTGRES_PORT="$port"
    THROWAWAY_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/gatehouse_test"
    export THROWAWAY_POSTGRES_DIR THROWAWAY_POSTGRES_BIN THROWAWAY_POSTGRES_PORT THROWAWAY_POSTGRES_URL
}

stop_throwaway_postgres() {
    if [ -n "${THROWAWAY_POSTGRES_DIR:-}" ] && [ -d "$THROWAWAY_POSTGRES_DIR/data" ]; then
        runuser -u postgres -- "$THROWAWAY_POSTGRES_BIN/pg_ctl" -D "$THROWAWAY_POSTGRES_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$THROWAWAY_POSTGRES_DIR"
    fi
}
