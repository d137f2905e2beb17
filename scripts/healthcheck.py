"""Container health checks for docker-compose: `healthcheck.py web` or `healthcheck.py beat`.

web: GET /healthz on this container, as the proxy would send it (an allowed Host, https), so
     the check passes exactly when the portal would serve people.
beat: the schedule file has been written recently (beat saves it every few minutes).
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BEAT_STALE_SECONDS = 15 * 60


def web() -> bool:
    host = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
        headers={"Host": host.lstrip("."), "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=8) as response:  # noqa: S310 (this host)
            return response.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"healthz: {error}", file=sys.stderr)
        return False


def beat() -> bool:
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    schedules = list(var_dir.glob("celerybeat-schedule*"))
    return any(time.time() - path.stat().st_mtime < BEAT_STALE_SECONDS for path in schedules)


if __name__ == "__main__":
    checks = {"web": web, "beat": beat}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        sys.exit("usage: healthcheck.py web|beat")
    sys.exit(0 if checks[sys.argv[1]]() else 1)
