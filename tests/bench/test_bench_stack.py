"""Benchmark (`make bench`, not `make test`): what a call costs where CPython 3.11's frame stack
chunk ends, plainly and under `common.stack.run_with_room` (which gunicorn's workers run
their loop in: gunicorn.conf.py). Printed: the typical call, the worst depth's call, both
ways, over depths 0-600; and each page at scale served plainly and with room: the chunks
unmapped per request (strace) and the median latency."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.stack import run_with_room
from tests.common.test_stack import _at_depth

SAMPLES = 20


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the chunk boundary is CPython 3.11's")
def test_bench_calls_at_a_frame_stack_chunks_end() -> None:
    depths = range(600)
    plain = [_at_depth(depth) for depth in depths]
    roomy = [run_with_room(_at_depth, depth) for depth in depths]
    began = time.perf_counter()
    for _ in range(200):
        run_with_room(len, "")
    overhead = (time.perf_counter() - began) / 200
    print()
    for label, costs in (("plain", plain), ("run_with_room", roomy)):
        worst = max(depths, key=costs.__getitem__)
        print(
            f"[bench] calls, {label:<13}: typical {statistics.median(costs) * 1e9:6.0f} ns, "
            f"worst {costs[worst] * 1e9:8.0f} ns (depth {worst}), "
            f"x{costs[worst] / statistics.median(costs):.0f}"
        )
    print(
        f"[bench] run_with_room itself: {overhead * 1e6:.0f} us a call (once per gunicorn worker)"
    )


def _munmaps(strace_summary: str) -> int:
    for line in strace_summary.splitlines():
        parts = line.split()
        if parts and parts[-1] == "munmap":
            return int(parts[3])
    return 0


@pytest.mark.timeout(1800)
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
@pytest.mark.skipif(not shutil.which("strace"), reason="strace counts the munmap calls")
def test_bench_pages_unmap_no_chunks_in_gunicorn(
    aws_server: str, redis_url: str, tmp_path: Path
) -> None:
    """The pages at scale (test_bench_pages.py's) from one gunicorn worker, plain and as
    gunicorn.conf.py runs it: the median latency of 20 requests, then munmap calls per request
    over 20 more (a chunk of the frame stack freed each time; strace -c on the worker)."""
    from tests.bench.scale import child_env, gunicorn
    from tests.bench.test_bench_pages import _getter, _seed

    pages, _ = _seed()
    table: dict[str, dict[str, tuple[float, float]]] = {}
    configs = {"plain": "tests/bench/gunicorn_plain_stack.conf.py", "room": "gunicorn.conf.py"}
    for label, config in configs.items():
        env = child_env(aws_server, redis_url)
        with gunicorn(env, tmp_path / f"{label}.log", workers=1, config=config) as served:
            get = _getter(served.base, [])
            (pid,) = served.worker_pids()
            for name, (path, cookie) in pages.items():
                for _ in range(3):
                    get(path, cookie)
                took = [get(path, cookie)[1] for _ in range(SAMPLES)]  # untraced
                summary = tmp_path / "strace.txt"
                tracer = subprocess.Popen(
                    ["strace", "-c", "-e", "trace=munmap", "-p", str(pid), "-o", str(summary)],
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.5)  # attached
                for _ in range(SAMPLES):
                    get(path, cookie)
                tracer.terminate()
                tracer.wait()
                table.setdefault(name, {})[label] = (
                    _munmaps(summary.read_text()) / SAMPLES,
                    statistics.median(took) * 1000,
                )
    print()
    print(f"[bench] {'page':<36} | plain: munmap/request  p50 ms | room: munmap/request  p50 ms")
    for name, row in table.items():
        (plain_unmaps, plain_ms), (room_unmaps, room_ms) = row["plain"], row["room"]
        print(
            f"[bench] {name:<36} | {plain_unmaps:20.1f} {plain_ms:7.1f} |"
            f" {room_unmaps:19.1f} {room_ms:7.1f}"
        )
