"""Uploads that stop at their limit instead of being read whole before they are refused."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class LimitedUpload(FileUploadHandler):
    """Put first in `request.upload_handlers`: once the file passes `limit` bytes, reading
    stops (the rest of the body is never read into memory or a temporary file) and
    `exceeded` tells the form why the file is missing."""

    def __init__(self, request: Any = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received = start + len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
