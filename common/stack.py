"""Run a long-lived loop (a gunicorn worker's) where CPython 3.11's frame stack has room.

CPython 3.11 keeps Python frames in chunks of 16 KiB and frees a chunk (munmap) as soon as
the first frame in it returns. Code that loops at the depth where one chunk ends calls across
the boundary on every iteration, and every such call maps and unmaps a chunk: measured here,
a call there costs 9-18 us against 0.09 us elsewhere, and the audit trail's rows rendered
2.7x slower inside a request than the same template rendered a few frames higher
(python/cpython#142183, fixed in 3.13 and later by keeping a spare chunk; 3.11 takes only
security fixes).

`run_with_room` calls a function from a frame large enough that CPython gives it a chunk of
its own of 512 KiB: the frames of the call (the worker's loop, each request's middleware,
view and templates) stack up in the ~250 KiB left in that chunk, with no boundary to cross.
The cost is one chunk mapped, zeroed and unmapped per call (~0.2 ms), so it wraps loops,
not each request. The Celery worker's pool loop is not wrapped (yet).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Frame slots of the runner: 33,000 x 8 bytes is over 256 KiB, so the chunk CPython sizes for
# it (the next power of two) is 512 KiB.
ROOM_SLOTS = 33_000


def _compile_runner(slots: int) -> Callable[..., Any]:
    # Locals that are never bound still get their slot in every frame of the function.
    names = " = ".join(f"_{i}" for i in range(slots))
    source = (
        "def run_with_room(function, /, *args, **kwargs):\n"
        "    if function is None:\n"
        f"        {names} = None\n"
        "    return function(*args, **kwargs)\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<common.stack>", "exec"), namespace)  # noqa: S102 (our own source)
    runner: Callable[..., Any] = namespace["run_with_room"]
    return runner


if sys.version_info[:2] == (3, 11):
    _runner = _compile_runner(ROOM_SLOTS)
else:  # 3.12 (frames sized differently) and 3.13+ (a spare chunk is kept): not needed

    def _runner(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)


def run_with_room(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)`, its frames on a chunk of the frame stack of their own."""
    result: T = _runner(function, *args, **kwargs)
    return result
