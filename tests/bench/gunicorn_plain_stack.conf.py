"""gunicorn.conf.py as it was before its workers ran their loop with room on the frame stack:
test_bench_stack.py's "plain" side only."""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "portal_gunicorn_conf", Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
)
assert _spec and _spec.loader
_conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conf)

logger_class = _conf.logger_class
accesslog = _conf.accesslog
on_starting = _conf.on_starting


def post_worker_init(worker: Any) -> None:
    gc.collect()
    gc.freeze()
