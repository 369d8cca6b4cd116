#!/usr/bin/env python3
"""The file-level reference graph of a Swift module and its cycles.

A file refers to another when it names a top-level type the other declares, or a function or property the other declares in an
extension (when that name is declared in one file only). Prints each strongly connected component of more
than one file, largest first. Usage: Scripts/file_cycles.py Sources/SwitchboardCore
"""
import os
import re
import sys
from collections import defaultdict

root = sys.argv[1]
files = sorted(
    os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".swift"))


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)


sources = {f: strip(open(f).read()) for f in files}
declared = defaultdict(set)
type_decl = re.compile(r"^(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private|final|indirect|nonisolated)\s+)*(?:struct|class|enum|protocol|actor|typealias)\s+([A-Z]\w*)", re.M)
member_decl = re.compile(r"^\s{4}(?:@\w+\s+)*(?:(?:public|package|internal|static|mutating|nonisolated|final|override)\s+)*(?:func|var|let)\s+([a-z]\w{7,})", re.M)
for f, text in sources.items():
    for name in type_decl.findall(text):
        declared[name].add(f)
    # Members of extensions of types declared elsewhere.
    for block in re.finditer(r"^extension\s+(\w+)[^{]*\{(.*?)^\}", text, re.M | re.S):
        for name in member_decl.findall(block.group(2)):
            declared[name].add(f)
owners = {name: next(iter(fs)) for name, fs in declared.items() if len(fs) == 1}
edges = defaultdict(set)
for f, text in sources.items():
    for word in set(re.findall(r"\b[A-Za-z_]\w*\b", text)):
        owner = owners.get(word)
        if owner and owner != f:
            edges[f].add(owner)

# Tarjan's strongly connected components.
index, low, stack, on, components = {}, {}, [], set(), []
counter = [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on.discard(w)
            component.append(w)
            if w == v:
                break
        components.append(component)


sys.setrecursionlimit(10000)
for f in files:
    if f not in index:
        visit(f)
cycles = sorted((c for c in components if len(c) > 1), key=len, reverse=True)
print(f"{len(files)} files; {sum(map(len, cycles))} in cycles")
for c in cycles:
    print(f"\n{len(c)} files:")
    for f in sorted(c):
        inside = sorted(os.path.relpath(w, root) for w in edges[f] if w in c)
        print(f"  {os.path.relpath(f, root)} -> {', '.join(inside)}")
