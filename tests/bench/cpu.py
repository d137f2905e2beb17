"""CPU seconds spent by each part of the system in a window of a benchmark, read from /proc:
the web (gunicorn), the worker (celery), the fake AWS with the benchmark's own client (the
pytest process, where the moto server runs in threads), Postgres and Redis. On this 2-core
machine they all share the same cores, so their sum against the window says how much of a
figure is our code waiting for a core."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass

PARTS = (
    ("celery", "worker (celery)"),
    ("gunicorn", "web (gunicorn)"),
    ("pytest", "fake AWS (moto) and the bench client"),
    ("postgres", "Postgres"),
    ("redis", "Redis"),
)
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Snapshot:
    taken: float
    ticks: dict[int, tuple[int, str]]  # pid -> (user + system ticks, part)


def snapshot() -> Snapshot:
    """Every process's CPU ticks so far, by the part it belongs to."""
    ticks: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmd.read()
        except OSError:  # gone meanwhile
            continue
        part = next((label for word, label in PARTS if word in command), "other")
        ticks[int(entry)] = (int(fields[11]) + int(fields[12]), part)
    return Snapshot(time.monotonic(), ticks)


def spent(before: Snapshot, after: Snapshot) -> tuple[float, dict[str, float]]:
    """The window's length and the CPU seconds each part spent in it (processes that ended in
    the window are not counted: none of the system's do in a benchmark)."""
    ticks: Counter[str] = Counter()
    for pid, (now, part) in after.ticks.items():
        ticks[part] += now - before.ticks.get(pid, (0, part))[0]
    return after.taken - before.taken, {part: n / _TICKS for part, n in ticks.items()}


def describe(window: float, seconds: dict[str, float], per: int, what: str) -> str:
    """One line: the window, the CPU each part spent in it, per `what` (ms), and the cores."""
    total = sum(seconds.values())
    parts = ", ".join(
        f"{label} {seconds.get(label, 0.0) * 1000 / per:.0f}"
        for _, label in PARTS
        if seconds.get(label, 0.0) >= 0.005
    )
    return (
        f"CPU in the {window:.2f}s window per {what} (ms): {parts}; "
        f"{total:.2f} CPU-s in all = {total / window:.1f} of {os.cpu_count()} cores busy"
    )
