#!/usr/bin/env bash
# The whole benchmark in one command (Docs/Performance.md): installs the peers, builds Switchboard and the
# bench servers in release mode, runs Scripts/bench.py (which starts and stops every server), prints the table.
#
#   Scripts/bench.sh [bench.py options: --repeats 3 --only pty,keys,pastes,start,echo,idle,gets ...]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== peers and load clients"
# websocketd (Go) and node-ws from Debian, terminado from PyPI, wrk for HTTP, valgrind (callgrind) for the
# instruction counts; pinned where PyPI allows.
if command -v apt-get > /dev/null && ! { command -v websocketd && command -v wrk && command -v valgrind && test -d /usr/share/nodejs/ws; } > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q > /dev/null
    apt-get install -y -q --no-install-recommends websocketd node-ws nodejs wrk util-linux valgrind binutils > /dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check 'websockets==17.4' 'terminado==0.18.1' 'tornado==6.6.1'

echo "== release build (switchboard, BenchServer)"
swift build -c release --product switchboard
swift build -c release --product BenchServer
bin="$(swift build -c release --show-bin-path)"

echo "== benchmark"
python3 -u Scripts/bench.py --switchboard "$bin/switchboard" --bench-server "$bin/BenchServer" "$@"
