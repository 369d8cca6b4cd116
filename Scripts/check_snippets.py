#!/usr/bin/env python3
"""Every Swift example in README.md and Docs/ is code that CI compiles.

Each ```swift block must appear, line for line (leading and trailing spaces and blank lines aside), in a
Swift file of a compiled target: Samples/ (the samples and Samples/Snippets), Sources/ or Tests/. A block
that is deliberately not compilable on its own says so on the line before it:
<!-- snippet: fragment -->; a package manifest (a block that starts with `// swift-tools-version`, which no
target can hold) says <!-- snippet: package manifest -->, and Scripts/first_build.sh builds one of that
shape. Exits non-zero, naming the file and line of each block it cannot find.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def lines_of(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


compiled = []
for folder in ("Samples", "Sources", "Tests"):
    for path in sorted((root / folder).rglob("*.swift")):
        if "Fixtures/Declarations" in str(path):
            continue  # deliberately wrong code
        compiled.append((path, lines_of(path.read_text())))


def found(block):
    for path, lines in compiled:
        for start in range(len(lines) - len(block) + 1):
            if lines[start:start + len(block)] == block:
                return path
    return None


failures = 0
checked = 0
for document in [root / "README.md", *sorted((root / "Docs").glob("*.md"))]:
    text = document.read_text().splitlines()
    index = 0
    while index < len(text):
        if text[index].strip() == "```swift":
            start = index
            index += 1
            body = []
            while index < len(text) and text[index].strip() != "```":
                body.append(text[index])
                index += 1
            marker = text[start - 1].strip() if start > 0 else ""
            if marker == "<!-- snippet: fragment -->" or (
                marker == "<!-- snippet: package manifest -->" and body and body[0].startswith("// swift-tools-version")
            ):
                index += 1
                continue
            checked += 1
            block = lines_of("\n".join(body))
            if block and found(block) is None:
                failures += 1
                print(f"{document.relative_to(root)}:{start + 1}: this Swift example is not in any compiled file")
        index += 1

print(f"{checked} Swift examples checked, {failures} not compiled")
sys.exit(1 if failures else 0)
