"""The SCIM 2.0 endpoint, `/scim/v2/...`, for the identity provider.

scim2-server serves the protocol over `DirectoryStorage`. Each request runs in one
transaction that a SCIM error rolls back whole (nothing half-written), and each is audited
afterwards (`scim.request`), refused ones included, with the token's name, never its value.
A bearer token is the only credential: a portal session is none, so there is no cookie to
forge and CSRF does not apply.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    ForbiddenException,
    Patch,
    ResourceType,
    SCIMException,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    UnauthorizedException,
    User,
)
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation, Target
from scim2_server.service import ScimService

import audit
from common.http import client_ip
from provisioning.models import ScimToken
from provisioning.scim.storage import DirectoryStorage
from provisioning.scim.tokens import scim_token_authenticate

MAX_RESULTS = 200
ENTERPRISE = str(EnterpriseUser.__schema__)

CONFIG = ServiceProviderConfig(
    documentation_uri=None,
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=False),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Bearer token",
            description="A token a security admin made on the portal's SCIM tokens page.",
            primary=True,
        )
    ],
)
PROVIDER = ScimProvider(
    models=[User, EnterpriseUser],
    resource_types=[ResourceType.from_resource(User[EnterpriseUser])],
    config=CONFIG,
)

# What each operation needs of the token. Marking someone inactive is checked by the
# storage too: it needs `offboard` on top of `write`.
_SCOPE_OF = {
    Operation.query: ScimToken.Scope.READ,
    Operation.search: ScimToken.Scope.READ,
    Operation.search_with_body: ScimToken.Scope.READ,
    Operation.create: ScimToken.Scope.WRITE,
    Operation.replace: ScimToken.Scope.WRITE,
    Operation.patch: ScimToken.Scope.WRITE,
    Operation.delete: ScimToken.Scope.OFFBOARD,
}


class PortalScimService(ScimService):
    def authorize(self, request: ScimRequest, target: Target, resource_type: ResourceType) -> None:
        token: ScimToken | None = request.subject
        if token is None:
            raise UnauthorizedException(detail="Send a SCIM token: Authorization: Bearer ...")
        needed = _SCOPE_OF.get(target.operation, ScimToken.Scope.WRITE)
        if needed not in token.scopes:
            raise ForbiddenException(detail=f"This token does not have the {needed} scope.")


SERVICE = PortalScimService(PROVIDER)


def _manager_reference(value: Any, base_url: str) -> Any:
    """A manager as RFC 7643 has it ({"value", "$ref"}), from what identity providers send:
    Okta leaves out "$ref", Entra ID sends the bare id."""
    if isinstance(value, str | int):
        value = {"value": str(value)}
    if isinstance(value, dict) and value.get("value") and not value.get("$ref"):
        return {**value, "$ref": f"{base_url}/Users/{value['value']}"}
    return value


def tolerate_dialects(body: bytes, base_url: str) -> bytes:
    """The request body with the enterprise manager made whole, everything else as sent."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return body  # scim2-server answers invalidSyntax
    if not isinstance(data, dict):
        return body
    extension = data.get(ENTERPRISE)
    if isinstance(extension, dict) and "manager" in extension:
        extension["manager"] = _manager_reference(extension["manager"], base_url)
    for operation in data.get("Operations") or []:
        if not isinstance(operation, dict):
            continue
        path = str(operation.get("path") or "")
        if path.lower() == f"{ENTERPRISE}:manager".lower():
            operation["value"] = _manager_reference(operation.get("value"), base_url)
        elif isinstance(operation.get("value"), dict) and ENTERPRISE in operation["value"]:
            inner = operation["value"][ENTERPRISE]
            if isinstance(inner, dict) and "manager" in inner:
                inner["manager"] = _manager_reference(inner["manager"], base_url)
        elif path.lower() == f"{ENTERPRISE}:manager.value".lower():
            operation["path"] = f"{ENTERPRISE}:manager"
            operation["value"] = _manager_reference(operation.get("value"), base_url)
    return json.dumps(data).encode()


def _needs_token(scim_request: ScimRequest) -> bool:
    try:
        return SERVICE.match(scim_request).operation is not Operation.service_provider_config
    except SCIMException:
        return True


def _serve(scim_request: ScimRequest, token: ScimToken | None, ip: str | None) -> ScimResponse:
    try:
        if token is None and _needs_token(scim_request):
            raise UnauthorizedException(detail="Send a valid SCIM token: Authorization: Bearer ...")
        storage = DirectoryStorage(
            source=token.actor if token else "scim", ip=ip, scopes=token.scopes if token else []
        )
        with transaction.atomic():
            return ScimHandler(SERVICE, storage).handle(scim_request)
    except SCIMException as error:
        # Raised inside the transaction: nothing of the request was written.
        return SERVICE.error_response(error)


@csrf_exempt
def scim_api(request: HttpRequest, path: str = "") -> HttpResponse:
    token = scim_token_authenticate(request.headers.get("Authorization"))
    ip = client_ip(request)
    base_url = request.build_absolute_uri(reverse("scim_api", kwargs={"path": ""})).rstrip("/")
    scim_request = ScimRequest(
        method=request.method or "GET",
        base_url=base_url,
        path=f"/{path}",
        query={key: request.GET[key] for key in request.GET},
        headers=dict(request.headers),
        body=tolerate_dialects(request.body, base_url),
    )
    scim_request.subject = token
    response = _serve(scim_request, token, ip)
    _record(request, token, path=path, response=response, ip=ip)
    body = b"" if response.body is None else json.dumps(response.body).encode()
    reply = HttpResponse(body, status=response.status.value)
    for name, value in response.headers.items():
        reply[name] = value
    return reply


def _record(
    request: HttpRequest,
    token: ScimToken | None,
    *,
    path: str,
    response: ScimResponse,
    ip: str | None,
) -> None:
    """One row per call, after the request's own transaction (a refused call is kept too)."""
    data: dict[str, Any] = {
        "method": request.method,
        "path": f"/{path}"[:200],
        "status": response.status.value,
    }
    if request.GET.get("filter"):
        data["filter"] = request.GET["filter"][:200]
    if response.status >= HTTPStatus.BAD_REQUEST and response.body:
        data["error"] = str(response.body.get("detail", ""))[:300]
    resource_id = (response.body or {}).get("id") if response.body else None
    audit.record(
        "scim.request",
        actor=token.actor if token else "scim:unauthenticated",
        target=f"person:{resource_id}" if resource_id else (token.audit_target if token else ""),
        data=data,
        ip=ip,
    )
