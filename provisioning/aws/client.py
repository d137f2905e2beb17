"""The AWS boundary's core: the only module of ours that imports boto3 or botocore.

One way to build a client (cached per service and profile, with the request-id hook, the
credential-body log filter and, under test settings only, the seams), one `call` that turns
botocore's errors into `AwsError`, and one `pages` for paginated lists. Errors leave as
`AwsError` with a `transient` flag, so callers choose between retry and failure without
knowing botocore.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore
import botocore.awsrequest
import botocore.config
import botocore.exceptions
import botocore.session
from django.conf import settings

from provisioning.aws import pacer

logger = logging.getLogger(__name__)

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceFailure",
    "InternalFailure",
    "RequestTimeout",
    "ConcurrentModification",
}


@dataclass
class AwsError(Exception):
    """An AWS call failed. `transient` errors are worth retrying; the rest need a person."""

    code: str
    message: str
    operation: str = ""
    transient: bool = False
    request_id: str = ""

    def __str__(self) -> str:
        where = f" during {self.operation}" if self.operation else ""
        return f"AWS refused{where}: {self.code}: {self.message}"


@dataclass
class CallLog:
    """The AWS request ids of the calls a step made, for its audit row."""

    request_ids: list[str] = field(default_factory=list)


# --- Clients --------------------------------------------------------------------------------
#
# Two profiles of the same client: "standard" (botocore's standard retries, settings'
# timeouts) for the work itself, and "quick" (one short attempt) for what a person or a probe
# waits on: health, the start-up checks, the offboarding preview. Both carry every hook.

STANDARD = "standard"
QUICK = "quick"

_local = threading.local()
_clients: dict[tuple[str, str, str, str], Any] = {}
_clients_lock = threading.Lock()
# botocore's loader of service models (IAM's is a megabyte of JSON), shared by every client
# this process builds: a new session per client keeps credentials fresh, and with the loader
# shared a client costs ~10 ms instead of ~70.
_loader: Any = None


def _session() -> boto3.session.Session:
    global _loader
    core = botocore.session.get_session()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return boto3.session.Session(botocore_session=core)


def _config(profile: str) -> botocore.config.Config:
    if profile == QUICK:
        return botocore.config.Config(
            region_name=settings.AWS_REGION,
            # One attempt in all: botocore's "max_attempts" counts retries after the first.
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=settings.AWS_QUICK_CONNECT_TIMEOUT,
            read_timeout=settings.AWS_QUICK_READ_TIMEOUT,
        )
    return botocore.config.Config(
        region_name=settings.AWS_REGION,
        # Adaptive: standard's retries, plus a client-side rate that backs off when AWS
        # throttles (the shared pacer keeps workers from meeting the limit in the first place).
        retries={"mode": settings.AWS_RETRY_MODE, "max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
    )


def client(service: str = "iam", *, profile: str | None = None) -> Any:
    """The cached boto3 client for `service` (built from settings on first use)."""
    profile = profile or str(getattr(_local, "profile", STANDARD))
    key = (service, profile, settings.AWS_REGION, settings.AWS_ENDPOINT_URL)
    with _clients_lock:
        if key not in _clients:
            made = _session().client(
                service, endpoint_url=settings.AWS_ENDPOINT_URL or None, config=_config(profile)
            )
            made.meta.events.register("after-call", _remember_request_id)
            # Every HTTP attempt, retries included, takes its token from the shared bucket.
            made.meta.events.register(f"before-send.{service}", _pace)
            if settings.AWS_TEST_SEAMS:
                # Imported only here, and only under test settings: seams.py refuses to load
                # anywhere else.
                from provisioning.aws import seams

                seams.install(made, answer=error_response)
            _clients[key] = made
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests change the endpoint between runs)."""
    with _clients_lock:
        _clients.clear()


def warm() -> None:
    """Load the service models a worker uses, before it forks its pool: each child then builds
    its clients from the loaded models instead of parsing them on its first task (the first
    offboarding cut of a fresh child took 0.5 s, the next ones 0.1)."""
    for service in ("iam", "sts"):
        _session().client(service, region_name=settings.AWS_REGION)


def _after_fork_in_child() -> None:
    """A forked child never shares its parent's clients: their connection pools may hold the
    parent's sockets (the start-up root check opened one). The loaded models stay."""
    global _clients_lock
    _clients_lock = threading.Lock()
    _clients.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def quick_calls() -> Iterator[None]:
    """Inside the block, calls make one short attempt (for pages a person waits on)."""
    previous = getattr(_local, "profile", STANDARD)
    _local.profile = QUICK
    try:
        yield
    finally:
        _local.profile = previous


def _pace(event_name: str = "", **_: Any) -> None:
    service, _sep, operation = event_name.removeprefix("before-send.").partition(".")
    pacer.take(service, operation)


def _remember_request_id(parsed: Any = None, **_: Any) -> None:
    log = getattr(_local, "call_log", None)
    if log is not None and isinstance(parsed, dict):
        request_id = parsed.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            log.request_ids.append(request_id)


class recording:
    """`with aws.recording() as calls:` collects the AWS request ids of the calls inside."""

    def __enter__(self) -> CallLog:
        self.previous = getattr(_local, "call_log", None)
        _local.call_log = CallLog()
        return _local.call_log

    def __exit__(self, *exc: object) -> None:
        _local.call_log = self.previous


# --- Calling -------------------------------------------------------------------------------


def call(operation: str, service: str = "iam", **params: Any) -> dict[str, Any]:
    """Call one AWS operation, translating botocore's errors into AwsError."""
    method = getattr(client(service), botocore.xform_name(operation))
    try:
        result: dict[str, Any] = method(**params)
    except botocore.exceptions.ClientError as error:
        raise _translate(error, operation) from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionClosedError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectTimeoutError,
    ) as error:
        raise AwsError("ConnectionError", str(error), operation, transient=True) from None
    except pacer.PacingTimeout as error:
        raise AwsError("PortalPacing", str(error), operation, transient=True) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsError(
            "NoCredentials", "no AWS credentials are configured", operation, transient=False
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise AwsError(type(error).__name__, str(error), operation, transient=True) from None
    return result


def _translate(error: botocore.exceptions.ClientError, operation: str) -> AwsError:
    info = error.response.get("Error", {})
    meta = error.response.get("ResponseMetadata", {})
    code = info.get("Code", "Unknown")
    status = meta.get("HTTPStatusCode", 0)
    return AwsError(
        code=code,
        message=info.get("Message", ""),
        operation=operation,
        transient=code in _TRANSIENT_CODES or status >= 500,
        request_id=meta.get("RequestId", ""),
    )


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent AWS calls at the same time and wait for all of them: what each
    returned, in order. Each runs on a thread of its own with the caller's client profile
    and call log (its request ids recorded as the caller's). Every call ends before the
    first exception, if any, is raised: nothing is left running behind an error. One call
    runs on the caller's own thread.

    For what one person waits on and AWS answers in round trips (cutting a leaver's
    access: with IAM 50-100 ms away, each call in a row is that much longer)."""
    if len(calls) <= 1:
        return [fn() for fn in calls]
    profile = getattr(_local, "profile", STANDARD)
    log = getattr(_local, "call_log", None)

    def run(fn: Callable[[], Any]) -> Any:
        _local.profile, _local.call_log = profile, log
        return fn()

    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="aws") as pool:
        futures = [pool.submit(run, fn) for fn in calls]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


def pages(operation: str, key: str, service: str = "iam", **params: Any) -> list[Any]:
    """Every item of a paginated list operation."""
    items: list[Any] = []
    marker: str | None = None
    while True:
        page = call(operation, service, **params, **({"Marker": marker} if marker else {}))
        items.extend(page.get(key, []))
        if not page.get("IsTruncated"):
            return items
        marker = page["Marker"]


def gone(error: AwsError) -> bool:
    """AWS's "no such entity": already removed, or never there."""
    return error.code == "NoSuchEntity"


def error_response(code: str, message: str, status: int) -> tuple[Any, dict[str, Any]]:
    """What a `before-call` handler returns to answer for AWS: botocore then raises
    ClientError. botocore's own retries never see it (they wrap the HTTP request this
    answer replaces), so an injected Throttling reaches the portal's retry at once."""
    response = botocore.awsrequest.AWSResponse(None, status, {}, None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"},
    }
    return response, parsed


# --- Identity ------------------------------------------------------------------------------


@dataclass
class CallerIdentity:
    account: str
    arn: str
    user_id: str

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")


def whoami(*, quick: bool = False) -> CallerIdentity:
    """Who the portal's credentials are. `quick` makes one short attempt (health, checks)."""
    with quick_calls() if quick else nullcontext():
        identity = call("GetCallerIdentity", service="sts")
    return CallerIdentity(
        account=identity["Account"], arn=identity["Arn"], user_id=identity["UserId"]
    )


def console_signin_url(account_id: str) -> str:
    return f"https://{account_id}.signin.aws.amazon.com/console"


# --- Logs ----------------------------------------------------------------------------------


class _WithholdCredentialBodies(logging.Filter):
    """botocore logs whole request and response bodies at DEBUG. Those of CreateLoginProfile,
    UpdateLoginProfile and CreateAccessKey carry a password or a secret key, and those of
    CreateVirtualMFADevice and EnableMFADevice an MFA seed or its codes, which must never
    reach a log, whatever level an operator turns on."""

    MARKERS = ("Password", "SecretAccessKey", "Base32StringSeed", "QRCodePNG", "AuthenticationCode")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if any(marker in message for marker in self.MARKERS):
            record.msg = "[%s withheld: it carries credentials]"
            record.args = (record.name,)
        return True


for _logger_name in ("botocore.endpoint", "botocore.parsers", "botocore.auth", "botocore.hooks"):
    logging.getLogger(_logger_name).addFilter(_WithholdCredentialBodies())
