"""`run_with_room`: a call's frames on a chunk of CPython's frame stack of their own, so code
looping where a 3.11 chunk ends no longer maps and unmaps a chunk on every call."""

from __future__ import annotations

import sys
import time

import pytest

from common.stack import run_with_room


def test_it_calls_the_function_with_its_arguments_and_returns_its_result():
    assert run_with_room(divmod, 17, 5) == (3, 2)
    assert run_with_room(dict, a=1) == {"a": 1}


def test_an_exception_comes_through_unchanged():
    with pytest.raises(ZeroDivisionError):
        run_with_room(divmod, 1, 0)


def _leaf(x: int) -> int:
    return x


def _calls(n: int = 3000) -> float:
    """Seconds per call of a small function, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for i in range(n):
            _leaf(i)
        best = min(best, (time.perf_counter() - began) / n)
    return best


def _at_depth(depth: int) -> float:
    return _calls() if depth == 0 else _at_depth(depth - 1)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the chunk boundary is CPython 3.11's")
def test_calls_where_a_chunk_ends_cost_what_calls_cost_elsewhere():
    plain = [_at_depth(depth) for depth in range(400)]
    typical = sorted(plain)[len(plain) // 2]
    cliff = max(range(len(plain)), key=plain.__getitem__)
    # Without room: a call at the chunk's end maps and unmaps a chunk (measured 100-200x).
    assert plain[cliff] > 20 * typical
    # With room, the same depths are ordinary.
    roomy = [run_with_room(_at_depth, depth) for depth in range(cliff - 2, cliff + 3)]
    assert max(roomy) < 5 * typical
