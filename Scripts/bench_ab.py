"""Two builds of `switchboard` side by side on one PTY workload: the rate and the server's CPU per MB, repeats
interleaved so that both builds see the same machine, and each repeat's pair (B ÷ A) for the verdict.

    python3 Scripts/bench_ab.py --a /tmp/switchboard.before --b .build/release/switchboard \\
        [--workload text] [--megabytes 64] [--repeats 9] [--compression | --kind "switchboard browser"]

The workloads are those of Scripts/bench.py (`77-byte lines`, `one long line`, `raw 80-byte lines`, `text`);
`--compression` has the client offer permessage-deflate, as browsers do; `--kind` picks any of bench.py's
Switchboard clients (`switchboard browser`: the terminado protocol with permessage-deflate, as the browser
console's xterm.js connects). Keep a copy of the binary before a change
(`cp .build/release/switchboard /tmp/switchboard.before`), rebuild, and compare.

With `--http-gets`, `--a` and `--b` are two builds of `BenchServer` instead, compared on bench.py's Shell GET
over HTTP (`/api/bench.item//limit=10` on one keep-alive connection, 8 pipelined, wrk), `--seconds` each:

    python3 Scripts/bench_ab.py --http-gets --a /tmp/BenchServer.before --b .build/release/BenchServer

With `--deflate`, `--a` and `--b` are two builds of `BenchServer`, compared on Switchboard's DEFLATE encoder alone
(`BenchServer deflate`: bench.py's text in 64 KiB messages, or `--message-bytes`, the fastest of five rounds), in
turns:

    python3 Scripts/bench_ab.py --deflate --a /tmp/BenchServer.before --b .build/release/BenchServer [--message-bytes 1024]

With `--json`, the same for terminado's `["stdout", ...]` framing alone (`BenchServer json`, the text's line ends
made `\\r\\n` as a terminal's output has them).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="the build before")
    parser.add_argument("--b", required=True, help="the build after")
    parser.add_argument("--workload", default="text", choices=list(bench.WORKLOADS))
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--compression", action="store_true", help="the client offers permessage-deflate")
    parser.add_argument("--kind", choices=[kind for kind in bench.PTY_KINDS if kind.startswith("switchboard")],
                        help="the client, as bench.py names it (default: switchboard, or switchboard compressed)")
    parser.add_argument("--http-gets", action="store_true",
                        help="compare two BenchServer builds on Shell GETs over HTTP, pipelined, instead")
    parser.add_argument("--seconds", type=int, default=3, help="with --http-gets: how long each build is loaded")
    parser.add_argument("--deflate", action="store_true",
                        help="--a and --b are BenchServer builds, compared on the DEFLATE encoder alone")
    parser.add_argument("--json", action="store_true",
                        help="--a and --b are BenchServer builds, compared on terminado's JSON framing alone")
    parser.add_argument("--message-bytes", type=int, default=65536,
                        help="with --deflate or --json: the size of the messages the text is cut into")
    args = parser.parse_args()
    if args.http_gets:
        return compare_http_gets(args)
    if args.deflate or args.json:
        return compare_steps(args, "deflate" if args.deflate else "json")
    total = args.megabytes * 1_000_000
    # One bench.Peers per build: each starts its `switchboard serve` as bench.py does.
    builds = {"A": bench.Peers(argparse.Namespace(switchboard=args.a)), "B": bench.Peers(argparse.Namespace(switchboard=args.b))}
    kind = args.kind or ("switchboard compressed" if args.compression else "switchboard")
    try:
        bench.make_text_file(builds["A"].data, total)  # removed with the run
        setup, producer = bench.WORKLOADS[args.workload]
        rates, cpu = {"A": [], "B": []}, {"A": [], "B": []}
        for _ in range(args.repeats):
            for name in ("A", "B"):
                rate, per_mb, _, _ = bench.pty_through(kind, builds[name], setup, producer(total))
                rates[name].append(rate)
                cpu[name].append(per_mb)
        for name, binary in (("A", args.a), ("B", args.b)):
            print(f"{name} {binary}: {spread(rates[name], 1)} MB/s, {spread(cpu[name], 2)} ms/MB")
        print(f"server CPU per MB, B ÷ A, each repeat's pair: {pair_ratios(cpu, 2)}, {kind}, {args.workload}, "
              f"{args.repeats} repeats of {args.megabytes} MB")
    finally:
        for peers in builds.values():
            peers.stop()


def spread(values, digits):
    """The median and the range of `values`."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def pair_ratios(values, digits):
    """B ÷ A for each repeat's pair: the median and the range."""
    pairs = sorted(b / a for a, b in zip(values["A"], values["B"]))
    return f"median {statistics.median(pairs):.{digits}f} ({pairs[0]:.2f}–{pairs[-1]:.2f})"


def compare_http_gets(args):
    """GETs a second from two BenchServer builds, each on a server of its own started once, in turns."""
    servers = {name: bench.Server(f"BenchServer {name}", [binary, "items"]) for name, binary in (("A", args.a), ("B", args.b))}
    rates = {"A": [], "B": []}
    try:
        for _ in range(args.repeats):
            for name in ("A", "B"):
                rates[name].append(bench.http_gets(servers[name].port, "/api/bench.item//limit=10", args.seconds, pipelined=True))
        for name, binary in (("A", args.a), ("B", args.b)):
            print(f"{name} {binary}: {spread(rates[name], 0)} GETs/s")
        print(f"GETs a second, B ÷ A, each repeat's pair: {pair_ratios(rates, 3)}, {args.repeats} repeats of "
              f"{args.seconds} s, 8 pipelined")
    finally:
        for server in servers.values():
            server.stop()


def compare_steps(args, work):
    """One step of the output path alone (`BenchServer deflate` or `json`) in two BenchServer builds, in turns,
    on bench.py's text."""
    what = {"deflate": ("the encoder's", "of the text compressed"), "json": ("terminado framing's", "of the text framed")}[work]
    directory = tempfile.mkdtemp(prefix="switchboard-bench-")
    try:
        bench.make_text_file(directory, args.megabytes * 1_000_000 // 4)
        cpu = {"A": [], "B": []}
        size = {}
        for _ in range(args.repeats):
            for name, binary in (("A", args.a), ("B", args.b)):
                per_mb, share = next((per_mb, share) for step, per_mb, share
                                     in bench.alone_rounds(binary, work, bench.TEXT_FILE, args.message_bytes) if step == "switchboard")
                cpu[name].append(per_mb)
                size[name] = share
        for name, binary in (("A", args.a), ("B", args.b)):
            print(f"{name} {binary}: {spread(cpu[name], 3)} ms/MB, {size[name] * 100:.2f} % {what[1]}")
        print(f"{what[0]} CPU per MB, B ÷ A, each repeat's pair: {pair_ratios(cpu, 3)}, {args.repeats} repeats of "
              f"{args.megabytes // 4} MB of text in messages of {args.message_bytes} bytes")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
