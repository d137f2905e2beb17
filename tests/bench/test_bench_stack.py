"""Benchmark (`make bench`, not `make test`): what a call costs where CPython 3.11's frame stack
chunk ends, plainly and under `common.stack.run_with_room` (which gunicorn's workers run
their loop in: gunicorn.conf.py). Printed: the typical call, the worst depth's call, both
ways, over depths 0-600."""

from __future__ import annotations

import statistics
import sys
import time

import pytest

from common.stack import run_with_room
from tests.common.test_stack import _at_depth


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
