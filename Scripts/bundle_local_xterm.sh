#!/usr/bin/env bash
# Builds a browser copy of Debian's xterm.js (package node-xterm, with esbuild) into a directory, for
# `switchboard serve --xterm-dir DIR` and the headless-Chromium test. xterm.js itself is never committed.
set -euo pipefail
out="${1:?usage: bundle_local_xterm.sh DIR}"
mkdir -p "$out"
esbuild /usr/share/nodejs/xterm/lib/public/Terminal.js --bundle --format=iife --global-name=XtermModule \
    --log-level=warning --outfile="$out/xterm.js"
cp /usr/share/nodejs/xterm/lib/xterm.css "$out/xterm.css"
