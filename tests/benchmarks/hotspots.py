"""Where the samples of a `py-spy record --format raw` profile went, as Markdown tables.

    python -m tests.benchmarks.hotspots PROFILE.txt [--top N]

py-spy's raw format is one collapsed stack per line, `frame;frame;…;frame COUNT`,
outermost first, each frame `function (path:line)`. This prints, over all
samples: the share each package spends on CPU itself (leaf frames), and the
functions with the largest inclusive share (on the stack at all), which is
where the time an optimisation can remove lives.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Profile", "main", "parse"]

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>.*?)(?::\d+)?\)$")
_SITE = re.compile(r"(?:site|dist)-packages/(?P<package>[^/]+)")


@dataclass(frozen=True, slots=True)
class Profile:
    """Sample counts: in total, by package of the leaf frame, and by function anywhere."""

    total: int
    self_by_package: Counter[str]
    inclusive_by_function: Counter[str]


def parse(lines: Iterable[str]) -> Profile:
    """Aggregate py-spy raw (collapsed) stacks."""
    total = 0
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        by_package[frames[-1][1]] += count
        for name in {function for function, _ in frames}:
            by_function[name] += count
    return Profile(total, by_package, by_function)


def _frame(text: str) -> tuple[str, str]:
    """`(function (path), package)` of one frame.

    py-spy shortens paths to what follows the `sys.path` entry (`httpx/_client.py`,
    `ssl.py`); with `--full-filenames` the package is read after `site-packages/`.
    """
    match = _FRAME.match(text.strip())
    if match is None:
        return text.strip(), "?"
    path = match.group("path")
    site = _SITE.search(path)
    if site is not None:
        path = path[site.start("package") :]
    package = path.split("/", 1)[0].removesuffix(".py")
    return f"{match.group('function')} ({path})", package


def markdown(profile: Profile, top: int) -> str:
    """The two tables, shares of all samples."""
    share = 100.0 / max(profile.total, 1)
    lines = [f"{profile.total} samples", "", "| package (self) | share |", "|---|---|"]
    for package, count in profile.self_by_package.most_common(top):
        lines.append(f"| {package} | {count * share:.1f}% |")
    lines += ["", "| function (inclusive) | share |", "|---|---|"]
    for function, count in profile.inclusive_by_function.most_common(top):
        lines.append(f"| `{function}` | {count * share:.1f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the tables for one profile file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    with args.profile.open() as lines:
        print(markdown(parse(lines), args.top))


if __name__ == "__main__":
    main(sys.argv[1:])
