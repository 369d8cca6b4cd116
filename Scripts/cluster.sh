#!/usr/bin/env bash
# Several Switchboard instances behind nginx, on one PostgreSQL database, all on loopback (Docs/ScaleOut.md):
#
#     Scripts/cluster.sh [--binary PATH] [--instances 3]
#
# Uses the database in SWITCHBOARD_TEST_POSTGRES when it is set (CI sets it), or else starts a PostgreSQL of
# its own from Debian's package in a scratch directory; starts the instances (`switchboard serve --database`,
# one key file for all) and nginx (Scripts/cluster/nginx.conf); runs Scripts/cluster_check.py through nginx;
# stops everything it started; exits non-zero on any failure. Needs Debian's nginx and postgresql, and
# Python's websockets.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
instances=3
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --instances) instances="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$binary" ] || binary="$(swift build --show-bin-path)/switchboard"
[ -x "$binary" ] || { echo "no switchboard binary at $binary (swift build first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-cluster.XXXXXX")"
chmod 755 "$work"
pids=()
pg_data=""
cleanup() {
    status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
        # A fast shutdown (SIGINT to the postmaster), waited for: nothing of it outlives the script.
        pg_pid="$(head -n 1 "$pg_data/postmaster.pid")"
        kill -INT "$pg_pid" 2> /dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pg_pid" 2> /dev/null || break; sleep 0.1; done
    fi
    if [ $status -ne 0 ]; then
        echo "== failed; the logs:" >&2
        tail -n 20 "$work"/*.log >&2 2> /dev/null || true
    fi
    rm -rf "$work"
    exit $status
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# initdb refuses to run as root: as root, the cluster belongs to Debian's postgres user.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

echo "== PostgreSQL"
database="${SWITCHBOARD_TEST_POSTGRES:-}"
if [ -z "$database" ]; then
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    pg_data="$work/postgres"
    pg_port="$(free_port)"
    mkdir -p "$pg_data"
    [ "$(id -u)" = 0 ] && chown postgres "$pg_data"
    (cd / && as_postgres "$bin/initdb" -D "$pg_data" -U switchboard --auth=trust > "$work/postgres-init.log")
    (cd / && as_postgres "$bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
        -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1" start > /dev/null)
    (cd / && as_postgres "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U switchboard switchboard)
    database="postgres://switchboard@127.0.0.1:$pg_port/switchboard"
    echo "started in $pg_data on port $pg_port"
else
    echo "using SWITCHBOARD_TEST_POSTGRES"
fi

echo "== $instances instances"
"$binary" keys add operator --allow '*:*' --file "$work/keys.json" > "$work/operator.key"
ports=()
upstreams=""
for index in $(seq 1 "$instances"); do
    port="$(free_port)"
    ports+=("$port")
    mkdir -p "$work/instance$index" "$work/home"
    # A home of their own: the shells the checks open read no start-up files of this machine's user (root's
    # .bashrc here runs `pyenv rehash`, which waits up to 60 s for a lock a killed shell can leave behind).
    HOME="$work/home" SWITCHBOARD_DATABASE="$database" "$binary" serve --port "$port" --data-dir "$work/instance$index" --keys "$work/keys.json" \
        --instance "sb$index" --trusted-proxy 127.0.0.1 --shutdown-timeout 5 > /dev/null 2> "$work/instance$index.log" &
    pids+=($!)
    upstreams="$upstreams server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"
done
for index in $(seq 1 "$instances"); do
    for _ in $(seq 1 200); do
        grep -q "Switchboard is listening on" "$work/instance$index.log" 2> /dev/null && break
        kill -0 "${pids[$((index - 1))]}" 2> /dev/null || { echo "instance $index exited" >&2; exit 1; }
        sleep 0.1
    done
    grep -q "Switchboard is listening on" "$work/instance$index.log" || { echo "instance $index did not start" >&2; exit 1; }
done
echo "ports ${ports[*]}"

echo "== nginx"
nginx_port="$(free_port)"
mkdir -p "$work/nginx-body" "$work/nginx-proxy" "$work/nginx-fastcgi" "$work/nginx-uwsgi" "$work/nginx-scgi"
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$nginx_port|g" -e "s|@UPSTREAMS@|$upstreams|g" Scripts/cluster/nginx.conf > "$work/nginx.conf"
nginx -t -q -c "$work/nginx.conf" -e "$work/nginx-error.log"
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" > "$work/nginx.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $nginx_port), timeout=1).close()" 2> /dev/null && break
    sleep 0.1
done
echo "port $nginx_port"

echo "== checks through nginx"
python3 Scripts/cluster_check.py --nginx "$nginx_port" --key "$(cat "$work/operator.key")" \
    --instance-ports "$(IFS=,; echo "${ports[*]}")" --instance-names "$(seq -s, -f 'sb%g' 1 "$instances")" --instance-pids "$(IFS=,; echo "${pids[*]:0:$instances}")"
echo "== all checks passed"
