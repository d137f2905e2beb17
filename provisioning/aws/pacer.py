"""One pace for every worker's mutating IAM calls: a token bucket in Redis.

IAM publishes no rate, throttles with `Throttling` past it, and the limit cannot be raised.
Left alone, N workers each retry against the others and burn their attempts together; with
one shared bucket they queue instead, each HTTP attempt (botocore's retries included) taking
a token first. The bucket is a Lua script, so taking a token is atomic and one round trip:
it reserves the next free slot and says how long to wait for it (the balance may go below
zero: callers queue in the order they asked). A wait longer than the bound is not reserved;
the caller then gets `PacingTimeout`, a transient error its run retries later.

`AWS_IAM_MUTATING_RATE` is calls per second for the whole account (0, the default for
development, paces nothing); `AWS_IAM_MUTATING_BURST` how many may go at once after a lull.
If Redis cannot be reached the pacer steps aside with a log line: AWS's own throttling and
botocore's retries still hold, so nothing is lost, only paced less well.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# What IAM calls only read. Everything else (Create*, Delete*, Put*, Attach*, Add*, Tag*, ...)
# changes the account, and is what IAM's mutating limit counts.
_READ_PREFIXES = ("Get", "List", "Simulate")

# KEYS[1]: the bucket. ARGV: rate per second, burst, longest wait in seconds.
# Returns the seconds to wait for the reserved token, or -1 when that would exceed the bound.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate) - 1
local wait = 0
if tokens < 0 then wait = -tokens / rate end
if wait > max_wait then return '-1' end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate + wait) + 60)
return tostring(wait)
"""


class PacingTimeout(Exception):
    """The shared bucket is booked further ahead than the caller may wait."""


_lock = threading.Lock()
_script: Any = None
_script_url = ""
_warned_at = 0.0


def is_mutating(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES)


def _bucket_script() -> Any:
    global _script, _script_url
    url = settings.REDIS_URL
    with _lock:
        if _script is None or _script_url != url:
            connection = redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=1, retry_on_timeout=False
            )
            _script = connection.register_script(_TAKE)
            _script_url = url
        return _script


def _warn_once_a_minute(error: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= 60:
        _warned_at = now
        logger.warning(
            "The AWS call pacer cannot reach Redis (%s): IAM calls go unpaced, AWS's "
            "throttling and the retries still apply.",
            type(error).__name__,
        )


def take(service: str, operation: str) -> float:
    """Wait for a token of `service`'s mutating bucket. Returns the seconds waited.

    Raises PacingTimeout when the bucket is booked more than AWS_PACER_MAX_WAIT_SECONDS ahead."""
    rate = settings.AWS_IAM_MUTATING_RATE
    if rate <= 0 or service != "iam" or not is_mutating(operation):
        return 0.0
    burst = max(1, settings.AWS_IAM_MUTATING_BURST)
    max_wait = settings.AWS_PACER_MAX_WAIT_SECONDS
    try:
        answer = float(
            _bucket_script()(keys=[f"portal:aws-pacer:{service}"], args=[rate, burst, max_wait])
        )
    except (redis.RedisError, OSError) as error:
        _warn_once_a_minute(error)
        return 0.0
    if answer < 0:
        raise PacingTimeout(
            f"IAM's mutating calls are booked more than {max_wait}s ahead "
            f"({rate} per second across all workers)"
        )
    if answer > 0:
        time.sleep(answer)
    return answer
