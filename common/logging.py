"""Keeping secrets out of log lines: one redaction, for Django's handlers and gunicorn's.

A credential link's path carries its one-time token (`/access/credentials/<token>/`), and
Django logs paths: every 4xx answer (`django.request`), every CSRF refusal
(`django.security.csrf`), every request under runserver (`django.server`); gunicorn's access
log writes the request line. `redact` replaces the token wherever it appears, plain or
URL-encoded (a sign-in redirect's `next`), in every record as it is made
(`install_record_redaction`, at start-up) and in gunicorn's access lines."""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN_IN_PATH = re.compile(r"((?:/|%2F)credentials(?:/|%2F))[A-Za-z0-9_\-]+", re.IGNORECASE)
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(REDACTED, text)


def _redact_record(record: logging.LogRecord) -> None:
    if isinstance(record.args, tuple):
        record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in record.args.items()
        }
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)


def install_record_redaction() -> None:
    """Redact every log record as it is made, whichever logger makes it and whichever
    handler (ours, gunicorn's, an operator's error tracker) receives it. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    factory.redacts_secrets = True  # type: ignore[attr-defined]  # a marker on the function
    logging.setLogRecordFactory(factory)
