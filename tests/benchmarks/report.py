"""The results: tables per scenario, the issue's targets, and the machine, as Markdown."""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["Goal", "Report", "Table", "machine_lines", "ms", "ratio", "us"]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for a table cell."""
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    """Seconds as microseconds, for a table cell."""
    return f"{seconds * 1e6:,.0f} µs"


def ratio(value: float) -> str:
    """A ratio for a table cell."""
    return f"{value:.2f}×"


@dataclass
class Table:
    """One scenario's results: what was measured, how, and a row per variant."""

    title: str
    method: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        """Append a row; it must have one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def markdown(self) -> str:
        """The table with its title and method, as Markdown."""
        lines = [f"### {self.title}", "", self.method, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Goal:
    """One of the issue's targets, what was measured against it, and whether it is met."""

    target: str
    measured: str
    met: bool


@dataclass
class Report:
    """Everything one benchmark session measured."""

    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    load_at_start: tuple[float, float, float] = field(default_factory=os.getloadavg)

    def markdown(self) -> str:
        """The whole report: targets first, then the machine, then every table."""
        lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {g.target} | {g.measured} | {'yes' if g.met else 'no'} |" for g in self.goals]
        load = ", ".join(f"{x:.2f}" for x in self.load_at_start)
        lines += ["", "## Machine", "", *machine_lines()]
        lines += [f"- load average when started: {load}", ""]
        lines.append(f"Measured in {time.time() - self.started:.0f} s.")
        for table in self.tables:
            lines += ["", table.markdown()]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> Path:
        """Write the Markdown to `path` (folders created) and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown())
        return path


def machine_lines() -> list[str]:
    """CPU, memory, load and versions: what a reader needs to compare numbers."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {len(os.sched_getaffinity(0))} × {_cpu_model()}",
        f"- RAM: {_mem_total_gib():.1f} GiB",
        f"- load average (1, 5, 15 min) when written: {load}",
        f"- {platform.system()} {platform.release()}, Python {sys.version.split()[0]}",
        "- " + ", ".join(f"{p} {_version(p)}" for p in ("prefect", "httpx", "litellm")),
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
