"""gunicorn's access log without credential-link tokens (gunicorn.conf.py uses this class)."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from common.logging import redact


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
        found = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in found.items()
        }
