#!/usr/bin/env python3
"""Runs the Autobahn TestSuite (through kosoku) against Switchboard's Echo terminal.

Starts `switchboard serve` on a free loopback port, runs the selected cases against
ws://127.0.0.1:PORT/api/echo, writes a per-group summary table (Docs/Autobahn.md by default) and
exits 1 when a case FAILED or the runner broke on a case that is not a known runner limitation.

  Scripts/autobahn.py --binary .build/release/switchboard          # the whole suite
  Scripts/autobahn.py --binary … --include '1.*' --include '9.*'   # some groups
"""
import argparse
import tempfile
import asyncio
import collections
import datetime
import json
import os
import sys
import time

GROUPS = {
    "1": "Framing", "2": "Pings/Pongs", "3": "Reserved bits", "4": "Opcodes", "5": "Fragmentation",
    "6": "UTF-8 handling", "7": "Close handling", "9": "Limits/Performance", "10": "Misc",
    "12": "permessage-deflate (payloads)", "13": "permessage-deflate (parameters)",
}
VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "RUNNER ERROR"]


def verdict(result):
    """The worse of a case's behaviour and close behaviour, or RUNNER ERROR."""
    behaviours = [result.get("behavior"), result.get("behavior_close")]
    if any(b is None or b not in VERDICTS for b in behaviours):
        return "RUNNER ERROR"
    return max(behaviours, key=VERDICTS.index)


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the switchboard executable")
    parser.add_argument("--include", action="append", help="case ids or globs (default: all)")
    parser.add_argument("--exclude", action="append", help="case ids or globs to leave out")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--summary", default="Docs/Autobahn.md", help="where to write the table ('-' for none)")
    parser.add_argument("--known-runner-errors", default="Scripts/autobahn-runner-errors.txt",
                        help="cases where kosoku itself is known to break (one id per line)")
    args = parser.parse_args()

    import kosoku  # installed by .ci/run: pip install kosoku
    from switchboard_process import start_server, stop_server

    known = set()
    if os.path.exists(args.known_runner_errors):
        with open(args.known_runner_errors) as file:
            known = {line.split("#")[0].strip() for line in file if line.split("#")[0].strip()}

    data = tempfile.mkdtemp(prefix="switchboard-autobahn-")
    process, port = start_server(args.binary, "--data-dir", data, "--no-pty", "--no-auth")
    url = f"ws://127.0.0.1:{port}/api/echo"
    started = time.monotonic()
    try:
        try:
            results = asyncio.run(
                kosoku.run_fuzzingclient(url, args.include, args.exclude, concurrency=args.parallelism))
        except kosoku.FailureError as failure:
            results = failure.results
    finally:
        stop_server(process)
    elapsed = time.monotonic() - started

    rows = normalise(results)
    by_group = collections.defaultdict(collections.Counter)
    bad = []
    for case_id, result in sorted(rows.items(), key=lambda item: case_key(item[0])):
        outcome = verdict(result)
        if outcome == "RUNNER ERROR" and case_id in known:
            outcome = "RUNNER ERROR (known)"
        by_group[case_id.split(".")[0]][outcome] += 1
        if outcome in ("FAILED", "RUNNER ERROR"):
            bad.append(f"{case_id}: {outcome} {json.dumps(result, default=str)[:300]}")

    columns = VERDICTS + ["RUNNER ERROR (known)"]
    table = ["| Group | " + " | ".join(columns) + " | Cases |", "|---" * (len(columns) + 2) + "|"]
    totals = collections.Counter()
    for group in sorted(by_group, key=int):
        counts = by_group[group]
        totals.update(counts)
        table.append(f"| {group} {GROUPS.get(group, '')} | " + " | ".join(str(counts[c] or "") for c in columns)
                     + f" | {sum(counts.values())} |")
    table.append("| **All** | " + " | ".join(f"**{totals[c]}**" for c in columns) + f" | **{sum(totals.values())}** |")
    print("\n".join(table))
    print(f"{len(rows)} cases in {elapsed:.0f} s against {url}")
    for line in bad:
        print("BAD", line)

    if args.summary != "-":
        write_summary(args.summary, table, len(rows), elapsed, known, args.parallelism)
    sys.stdout.flush()
    # kosoku 0.1.0's native runtime can abort while the interpreter shuts down; leave without tearing down.
    os._exit(1 if bad else 0)


def normalise(results):
    """kosoku's results as {case id: {"behavior": …, "behavior_close": …, "remote_close_code": …}}."""
    fields = ["behavior", "behavior_close", "remote_close_code", "remote_close_reason", "result", "result_close"]
    def plain(value):  # kosoku's enums print as "Behavior.OK"
        if value is None or "Behavior" not in str(type(value)):
            return value
        return str(value).split(".")[-1].replace("_", "-")
    return {str(item.case_id): {key: plain(getattr(item, key, None)) for key in fields} for item in results}


def write_summary(path, table, count, elapsed, known, parallelism):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    text = f"""# Autobahn TestSuite results

Generated by `Scripts/autobahn.py` on {when}: {count} cases against `switchboard serve`'s Echo terminal
(`ws://127.0.0.1:PORT/api/echo`, permessage-deflate on, default settings, release build), run by
[kosoku](https://pypi.org/project/kosoku/) with {parallelism} cases in parallel, in {elapsed:.0f} s. CI runs the same
script and fails on any FAILED case or unexpected runner error.

""" + "\n".join(table) + "\n"
    if known:
        text += ("\n*RUNNER ERROR (known)*: cases where kosoku 0.1.0 itself breaks, listed in "
                 "`Scripts/autobahn-runner-errors.txt`; see Docs/KnownIssues.md.\n")
    with open(path, "w") as file:
        file.write(text)


if __name__ == "__main__":
    main()
