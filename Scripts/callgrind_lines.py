#!/usr/bin/env python3
"""Instructions per source line, from a callgrind dump of a release build with line tables.

    swift build -c release --product BenchServer --build-path /var/tmp/relg -Xswiftc -g
    valgrind --tool=callgrind --dump-instr=yes ... (or Scripts/bench.py's CallgrindServer with --dump-instr=yes)
    Scripts/callgrind_lines.py DUMP --ops 2000 --binary /var/tmp/relg/release/BenchServer --fold --filter Sources/

Each instruction the binary ran is counted on the source line it came from (inlined code on the innermost
line of our own sources, when there is one). With --fold, what a call from the binary into the Swift runtime
or libc cost (retain and release, allocation, metadata) is counted on the line that made the call, which is
where most of a request's cost shows: the binary's own instructions are a third of the total. valgrind 3.19
cannot read Swift's DWARF 5, so the dump names only symbols; the lines come from llvm-symbolizer.
"""
import argparse
import collections
import re
import subprocess

# The most a runtime or libc call is counted at (per call): more is a call that ran other work.
MAX_CALL = 5000
# Calls whose inclusive cost is a task's whole continuation, not the call's own work.
CONTINUATIONS = re.compile(r"task_switch|resume|continuation|job|enqueue|Executor|executor")


def parse(path, binary_marker):
    names, objects = {}, {}

    def name(table, text):
        match = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not match:
            return text
        if match.group(2) is not None:
            table[match.group(1)] = match.group(2)
        return table[match.group(1)]

    own, folded = collections.Counter(), collections.Counter()
    current_object = callee_object = callee = None
    pending_call = False
    call_count = 1
    address = 0
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("ob="):
            current_object = name(objects, line[3:])
        elif line.startswith("fn="):
            name(names, line[3:])
        elif line.startswith("cob="):
            callee_object = name(objects, line[4:])
        elif line.startswith("cfn="):
            callee = name(names, line[4:])
        elif line.startswith(("cfi=", "cfl=", "fi=", "fe=", "fl=")):
            continue
        elif line.startswith("calls="):
            pending_call = True
            call_count = max(1, int(line[6:].split()[0]))
        elif line and (line[0].isdigit() or line[0] in "+-*"):
            parts = line.split()
            if len(parts) < 3:
                continue
            token = parts[0]
            if token == "*":
                pass
            elif token[0] in "+-":
                address += int(token)
            else:
                address = int(token, 16) if token.startswith("0x") else int(token)
            in_binary = current_object is not None and binary_marker in current_object
            if pending_call:
                pending_call = False
                target = callee_object or current_object
                callee_object = None
                inclusive = int(parts[2])
                # A call that costs more than a few thousand instructions each time has resumed other work.
                if in_binary and binary_marker not in target and not CONTINUATIONS.search(callee or "") \
                        and inclusive / call_count < MAX_CALL:
                    folded[address] += inclusive
            elif in_binary:
                own[address] += int(parts[2])
    return own, folded


def symbolize(binary, addresses):
    output = subprocess.run(["llvm-symbolizer", "--obj=" + binary, "--inlines"], input="\n".join(hex(a) for a in addresses),
                            capture_output=True, text=True, check=True).stdout.split("\n\n")
    places = {}
    for address, block in zip(addresses, output):
        lines = [line for line in block.strip().split("\n") if line]
        frames = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
        ours = next((frame for frame in frames if "/Sources/Switchboard" in frame[1] or "/Sources/switchboard" in frame[1]), None)
        frame = ours or (frames[0] if frames else ("?", "?"))
        places[address] = re.sub(r":\d+$", "", frame[1])
    return places


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump")
    parser.add_argument("--binary", required=True, help="the binary with line tables that ran (its stripped copy is fine for valgrind)")
    parser.add_argument("--ops", type=int, default=1, help="divide by this many operations")
    parser.add_argument("--marker", default="symbols-only", help="text in the object name of the binary in the dump")
    parser.add_argument("--fold", action="store_true", help="count runtime and libc calls on the line that made them")
    parser.add_argument("--filter", default="", help="only lines whose file matches this regex")
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    own, folded = parse(args.dump, args.marker)
    cost = collections.Counter(own)
    if args.fold:
        cost.update(folded)
    places = symbolize(args.binary, sorted(cost))
    by_line, by_file = collections.Counter(), collections.Counter()
    for address, count in cost.items():
        by_line[places[address]] += count
        by_file[places[address].rsplit(":", 1)[0]] += count
    pattern = re.compile(args.filter)
    print(f"in the binary{' with calls folded' if args.fold else ''}: {sum(cost.values()) / args.ops:.0f} per operation")
    for title, table in (("files", by_file), ("lines", by_line)):
        print(f"--- {title}")
        shown = [(place, count) for place, count in table.most_common() if pattern.search(place)][: args.top]
        for place, count in shown:
            print(f"{count / args.ops:9.0f}  {place}")


if __name__ == "__main__":
    main()
