"""The demo's fake AWS: moto's server, recording the requests it serves with every password
already replaced as each request is written, so no console password ever sits on disk, not
even while the demo runs (scripts/run.py starts it; MOTO_RECORDER_FILEPATH names the file).

    python scripts/fake_aws.py -H 127.0.0.1 -p 5000
"""

from __future__ import annotations

import base64
import sys
from typing import Any
from urllib.parse import parse_qs, urlencode

REPLAYED_PASSWORD = "Replayed-demo-password-1!"  # noqa: S105 (a placeholder, not a secret)
PASSWORD_FIELDS = {"Password", "NewPassword", "OldPassword"}


def redact_body(body: str) -> str:
    """A form-encoded AWS request body with every password field replaced."""
    fields = parse_qs(body, keep_blank_values=True)
    if not PASSWORD_FIELDS & set(fields):
        return body
    for name in PASSWORD_FIELDS & set(fields):
        fields[name] = [REPLAYED_PASSWORD]
    return urlencode(fields, doseq=True)


def _redacting_encode_body(self: Any, body: Any) -> tuple[Any, bool]:
    """moto's Recorder._encode_body, decoding and redacting the body before it is written."""
    if hasattr(body, "getvalue"):
        body = body.getvalue()
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
        if text.encode("utf-8") != body:  # not text: keep it as moto would
            return base64.b64encode(body).decode("ascii"), True
        body = text
    if isinstance(body, str):
        return redact_body(body), False
    return body, False


def main(argv: list[str]) -> None:
    from moto.moto_api._internal.recorder.models import Recorder
    from moto.server import main as moto_main

    Recorder._encode_body = _redacting_encode_body  # type: ignore[method-assign]  # the seam moto offers
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
