"""The people directory as scim2-server's storage of `User` resources.

scim2-server speaks the protocol (discovery, filters, PATCH and PUT, errors); this module
maps its calls onto the directory. A person's SCIM id is their primary key. The fields the
directory keeps (email, name, department, manager, active) are always read from the person,
so HR's edits show; the rest of what the identity provider sent is kept as it sent it, never
a password. Writes go through `accounts.people_sync` (HR's checks and audit rows) and, for a
leaver, `provisioning.scim.leavers`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from scim2_models import (
    Context,
    EnterpriseUser,
    ForbiddenException,
    InvalidValueException,
    Meta,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    SearchRequest,
    UniquenessException,
    User,
)
from scim2_server.storage import ScimStorage, SearchPage

from accounts.errors import PeopleError
from accounts.models import User as Person
from accounts.people_sync import (
    PersonExists,
    PersonFields,
    person_create_from_idp,
    person_update_from_idp,
)
from provisioning.models import LeaverNotice, ScimIdentity, ScimToken
from provisioning.scim import leavers

UserResource = User[EnterpriseUser]
LEAVERS_SCOPE = ScimToken.Scope.OFFBOARD.value
ENTERPRISE = str(EnterpriseUser.__schema__)
# Never kept, never returned (RFC 7643 §4.1.1: the password is write-only).
_NOT_KEPT = ("id", "meta", "password")


def _people() -> QuerySet[Person]:
    return Person.objects.select_related("scim_identity").exclude(
        scim_identity__deleted_at__isnull=False
    )


def _identity(person: Person) -> ScimIdentity | None:
    try:
        return person.scim_identity
    except ScimIdentity.DoesNotExist:
        return None


def resource_of(person: Person) -> Any:
    """The person as a SCIM `User`, with the enterprise extension. What the identity provider
    sent is returned as it sent it; the directory's own fields are read from the person:
    active, department and manager (HR may change them), and, for someone the identity
    provider never sent, the email and name."""
    identity = _identity(person)
    data: dict[str, Any] = dict(identity.resource) if identity else {}
    data["schemas"] = [str(User.__schema__), ENTERPRISE]
    data["id"] = str(person.pk)
    if identity is None:
        data["userName"] = person.email
        data["emails"] = [{"value": person.email, "type": "work", "primary": True}]
        if person.full_name:
            data["displayName"] = person.full_name
            data["name"] = {"formatted": person.full_name}
    else:
        data["userName"] = identity.user_name
        if identity.external_id:
            data["externalId"] = identity.external_id
    # Unsaid stays unsaid while the person works here; a leaver always reads inactive.
    if identity is None or "active" in data or not person.is_active:
        data["active"] = person.is_active
    enterprise = dict(data.get(ENTERPRISE) or {})
    enterprise.pop("department", None)
    if person.department:
        enterprise["department"] = person.department
    manager = enterprise.pop("manager", None)
    if person.manager_id:
        same = isinstance(manager, dict) and manager.get("value") == str(person.manager_id)
        enterprise["manager"] = (
            manager
            if same
            else {"value": str(person.manager_id), "$ref": f"Users/{person.manager_id}"}
        )
    if enterprise:
        data[ENTERPRISE] = {**enterprise, "schemas": [ENTERPRISE]}
    else:
        data.pop(ENTERPRISE, None)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    created = identity.created_at if identity else person.date_joined
    data["meta"] = Meta(
        resource_type="User",
        created=created,
        last_modified=identity.updated_at if identity else created,
        version=f'W/"{digest[:20]}"',
    ).model_dump()
    return UserResource.model_validate(data, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _email_of(resource: Any) -> str:
    """The work email: the primary (or first) email, else a userName that is one."""
    emails = [email for email in resource.emails or [] if email.value]
    primary = next((email for email in emails if email.primary), None)
    chosen = primary or (emails[0] if emails else None)
    if chosen is not None:
        return str(chosen.value).strip().lower()
    user_name = (resource.user_name or "").strip().lower()
    return user_name if "@" in user_name else ""


def _full_name_of(resource: Any) -> str:
    name = resource.name
    if name is not None and name.formatted:
        return str(name.formatted).strip()
    if name is not None and (name.given_name or name.family_name):
        return " ".join(part for part in (name.given_name, name.family_name) if part).strip()
    return str(resource.display_name or "").strip()


def _fields_of(resource: Any) -> PersonFields:
    enterprise = resource[EnterpriseUser]
    manager_id: int | None = None
    if enterprise is not None and enterprise.manager is not None and enterprise.manager.value:
        try:
            manager_id = int(enterprise.manager.value)
        except ValueError:
            raise InvalidValueException(
                detail=f"manager.value {enterprise.manager.value!r} is not the id of a user here."
            ) from None
    department = (enterprise.department or "") if enterprise is not None else ""
    return PersonFields(
        email=_email_of(resource),
        full_name=_full_name_of(resource),
        department=department.strip(),
        manager_id=manager_id,
    )


def _kept(resource: Any) -> dict[str, Any]:
    data: dict[str, Any] = resource.model_dump()
    for key in _NOT_KEPT:
        data.pop(key, None)
    return data


def _user_name_taken(user_name: str, *, person: Person | None) -> bool:
    identities = ScimIdentity.objects.filter(user_name__iexact=user_name)
    people = Person.objects.filter(email__iexact=user_name, scim_identity__isnull=True)
    if person is not None:
        identities = identities.exclude(person=person)
        people = people.exclude(pk=person.pk)
    return identities.exists() or people.exists()


class DirectoryStorage(ScimStorage):
    """One storage per request: `source` names the token that acts ("scim:okta")."""

    def __init__(self, *, source: str, ip: str | None, scopes: list[str]) -> None:
        self.source = source
        self.ip = ip
        self.scopes = scopes

    def _require_offboard_scope(self) -> None:
        if LEAVERS_SCOPE not in self.scopes:
            raise ForbiddenException(
                detail=f"Making a user inactive offboards them: it needs the {LEAVERS_SCOPE} scope."
            )

    def _person(self, resource_id: str, *, lock: bool = False) -> Person:
        if not resource_id.isdigit():
            raise NotFoundException(detail=f"No user {resource_id}.")
        people = _people()
        if lock:
            people = people.select_for_update(of=("self",))
        person = people.filter(pk=int(resource_id)).first()
        if person is None:
            raise NotFoundException(detail=f"No user {resource_id}.")
        return person

    def get(
        self, resource_type: ResourceType, resource_id: str, *, response_parameters: Any = None
    ) -> Resource[Any]:
        return resource_of(self._person(resource_id))

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        people = _people().order_by("pk")
        scim_filter = search_request.filter
        narrowed = _sql_filter(str(scim_filter)) if scim_filter is not None else None
        if narrowed is not None:
            people = people.filter(narrowed)
        found = [resource_of(person) for person in people.iterator(chunk_size=500)]
        if scim_filter is not None:
            found = [resource for resource in found if scim_filter.match(resource)]
        start = max(search_request.start_index or 1, 1)
        count = search_request.count
        end = None if count is None else start - 1 + max(count, 0)
        return SearchPage(total=len(found), resources=found[start - 1 : end])

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        user_name = str(getattr(resource, "user_name", "") or "").strip()
        if user_name and _user_name_taken(user_name, person=None):
            raise UniquenessException(detail=f"userName {user_name} is already taken.")
        try:
            person = person_create_from_idp(
                source=self.source,
                fields=_fields_of(resource),
                active=getattr(resource, "active", None) is not False,
                ip=self.ip,
            )
        except PersonExists as error:
            raise UniquenessException(detail=str(error)) from None
        except PeopleError as error:
            raise InvalidValueException(detail=str(error)) from None
        ScimIdentity.objects.create(
            person=person,
            user_name=user_name or person.email,
            external_id=str(getattr(resource, "external_id", "") or ""),
            resource=_kept(resource),
        )
        return resource_of(self._person(str(person.pk)))

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        person = self._person(str(resource.id), lock=True)
        current = resource_of(person)
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException(detail="The user changed meanwhile.")
        user_name = str(getattr(resource, "user_name", "") or "").strip() or person.email
        if _user_name_taken(user_name, person=person):
            raise UniquenessException(detail=f"userName {user_name} is already taken.")
        leaving = person.is_active and getattr(resource, "active", None) is False
        if leaving:
            self._require_offboard_scope()
        if person.is_active:
            try:
                person_update_from_idp(
                    source=self.source, person=person, fields=_fields_of(resource), ip=self.ip
                )
            except PersonExists as error:
                raise UniquenessException(detail=str(error)) from None
            except PeopleError as error:
                raise InvalidValueException(detail=str(error)) from None
        elif getattr(resource, "active", None) is not False:
            raise InvalidValueException(
                detail=f"{person.email} has left the organisation; the portal does not bring "
                "leavers back through SCIM."
            )
        ScimIdentity.objects.update_or_create(
            person=person,
            defaults={
                "user_name": user_name,
                "external_id": str(getattr(resource, "external_id", "") or ""),
                "resource": _kept(resource),
            },
        )
        if leaving:
            leavers.person_left(
                person=person,
                source=self.source,
                reason=LeaverNotice.Reason.DEACTIVATED,
                ip=self.ip,
            )
        return resource_of(self._person(str(person.pk)))

    def delete(
        self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None
    ) -> None:
        person = self._person(resource_id, lock=True)
        if expected_version is not None and resource_of(person).meta.version != expected_version:
            raise PreconditionFailedException(detail="The user changed meanwhile.")
        identity, _ = ScimIdentity.objects.get_or_create(
            person=person, defaults={"user_name": person.email}
        )
        identity.deleted_at = timezone.now()
        identity.save(update_fields=["deleted_at", "updated_at"])
        if person.is_active:
            leavers.person_left(
                person=person, source=self.source, reason=LeaverNotice.Reason.DELETED, ip=self.ip
            )


def _sql_filter(text: str) -> Q | None:
    """The people a filter `attribute eq "value"` on userName, externalId or id can match, as
    SQL (what identity providers send to find a user); None for any other filter. The
    matches are then checked in memory, so narrowing only makes the search cheaper."""
    parts = text.split(" ", 2)
    if len(parts) != 3 or parts[1].lower() != "eq" or not parts[2].startswith('"'):
        return None
    try:
        value = json.loads(parts[2])
    except ValueError:
        return None
    if not isinstance(value, str):
        return None
    attribute = parts[0].lower().rsplit(":", 1)[-1]
    if attribute == "username":
        return Q(scim_identity__user_name__iexact=value) | Q(
            scim_identity__isnull=True, email__iexact=value
        )
    if attribute == "externalid":
        return Q(scim_identity__external_id=value)
    if attribute == "id":
        return Q(pk=int(value)) if value.isdigit() else Q(pk__in=[])
    return None
