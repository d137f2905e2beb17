"""Fault injection and the strict test layer: seams for tests, refused anywhere else.

This module refuses to load unless the test settings switch it on (`AWS_TEST_SEAMS`); the
client imports it only then. Two seams, installed on every client it builds:

- `AWS_FAULT_INJECTION`, a ";"-separated list of rules read from settings on every call:
    "after:CreateUser:sleep=30"              sleep after that operation succeeds (to SIGKILL)
    "before:CreateUser:throttle=2"           answer Throttling the first 2 times it is called
    "before:CreateUser:error=LimitExceeded"  always answer that error code
- `AWS_CLIENT_HOOK`, a dotted path to a function taking the client (the strict IAM layer over
  moto in tests/strict_iam.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

if not getattr(settings, "AWS_TEST_SEAMS", False) or settings.PRODUCTION:
    raise ImproperlyConfigured(
        "provisioning.aws.seams is a test seam: only the test settings may load it"
    )

logger = logging.getLogger(__name__)

_fault_counts: dict[str, int] = {}
# How to answer for AWS (the client passes its own: only it may build botocore's objects).
_answer: Callable[[str, str, int], tuple[Any, dict[str, Any]]] | None = None


def install(client: Any, *, answer: Callable[[str, str, int], tuple[Any, dict[str, Any]]]) -> None:
    global _answer
    _answer = answer
    client.meta.events.register("before-call", _inject_fault)
    client.meta.events.register("after-call", _after_call)
    if settings.AWS_CLIENT_HOOK:
        import_string(settings.AWS_CLIENT_HOOK)(client)


def reset() -> None:
    """Forget how many times each "throttle" rule has fired."""
    _fault_counts.clear()


def _rules(when: str, operation: str) -> Iterator[tuple[str, str]]:
    spec = settings.AWS_FAULT_INJECTION
    for rule in filter(None, (part.strip() for part in spec.split(";"))):
        rule_when, rule_op, action = rule.split(":", 2)
        if rule_when == when and rule_op == operation:
            name, _, value = action.partition("=")
            yield name, value


def _inject_fault(model: Any = None, **_: Any) -> tuple[Any, dict[str, Any]] | None:
    operation = model.name if model is not None else ""
    if _answer is None:
        return None
    for name, value in _rules("before", operation):
        if name == "throttle":
            seen = _fault_counts.get(operation, 0)
            if seen < int(value):
                _fault_counts[operation] = seen + 1
                return _answer("Throttling", "Rate exceeded (injected)", 400)
        elif name == "error":
            return _answer(value, f"{value} (injected)", 409)
    return None


def _after_call(model: Any = None, parsed: Any = None, **_: Any) -> None:
    if model is None or (isinstance(parsed, dict) and parsed.get("Error")):
        return
    for name, value in _rules("after", model.name):
        if name == "sleep":
            logger.warning("fault injection: sleeping %ss after %s", value, model.name)
            time.sleep(float(value))
