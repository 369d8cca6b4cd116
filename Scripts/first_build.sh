#!/usr/bin/env bash
# What a new user's first build costs: a package of its own that depends on SwitchboardHummingbird by path
# (the way Docs/Embedding.md starts), built from nothing. Prints the build steps, the wall time, and
# whether BoringSSL (swift-nio-ssl's CNIOBoringSSL or swift-crypto's CCryptoBoringSSL) was compiled.
#
#   Scripts/first_build.sh [switchboard-checkout] [work-directory]
#
# Compare two commits in one run: clone each, then run this script on each clone, one after the other.
set -euo pipefail
switchboard="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="${2:-$(mktemp -d)}"
mkdir -p "$work/FirstBuild/Sources/FirstBuild"
cat > "$work/FirstBuild/Package.swift" <<MANIFEST
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "FirstBuild",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "$switchboard")],
    targets: [
        .executableTarget(
            name: "FirstBuild",
            dependencies: [
                .product(name: "Switchboard", package: "$(basename "$switchboard")"),
                .product(name: "SwitchboardHummingbird", package: "$(basename "$switchboard")"),
            ]
        )
    ]
)
MANIFEST
cat > "$work/FirstBuild/Sources/FirstBuild/main.swift" <<'SOURCE'
import Switchboard
import SwitchboardHummingbird

let api = SwitchboardAPI()
let server = SwitchboardServer(api: api, host: "127.0.0.1", port: 0)
print(server.configuration.apiRoot)
SOURCE
cd "$work/FirstBuild"
swift package resolve > /dev/null 2>&1
start=$(date +%s)
swift build > build.log 2>&1 || { tail -20 build.log; exit 1; }
end=$(date +%s)
steps=$(grep -o '^\[[0-9]*/[0-9]*\]' build.log | tail -1 | tr -d '[]' | cut -d/ -f2)
c_files=$(grep -c 'Compiling .*\.\(c\|cc\)$' build.log || true)
# Objects, not folders: SwiftPM makes a folder for every target of the graph, built or not.
boring=$( (find .build/*/debug/CNIOBoringSSL.build .build/*/debug/CCryptoBoringSSL.build -name '*.o' 2>/dev/null || true) | wc -l)
echo "first build of a package depending on $(basename "$switchboard") ($(git -C "$switchboard" rev-parse --short HEAD)): $((end - start)) s, $steps build steps, $c_files C/C++ files compiled, $boring BoringSSL objects"
