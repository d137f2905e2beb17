"""Domain errors of the access lifecycle. Views turn them into messages; tasks and commands
into a failure reason or an exit code. Every message is fit to show the person who acted."""

from __future__ import annotations


class PortalError(Exception):
    """A change the portal refuses, with a message fit to show the user."""


# --- Access requests and decisions ----------------------------------------------------------


class RequestInvalid(PortalError):
    """What was asked for cannot be requested (inactive role-group, bad end date, nothing to do)."""


class AlreadyHeld(RequestInvalid):
    """The requester already holds the role-group asked for."""


class ExtensionOffered(AlreadyHeld):
    """The requester holds the role-group until an end date: they may ask to extend it."""

    def __init__(self, message: str, *, grant_id: int) -> None:
        super().__init__(message)
        self.grant_id = grant_id


class DuplicateOpenRequest(RequestInvalid):
    """The requester already has an open request for this role-group (or access change)."""


class RequestNotFound(PortalError):
    """No such access request (or one the actor may not see)."""


class DecisionNotAllowed(PortalError):
    """The actor may not decide (or cancel) this request at its current stage."""


class AlreadyDecided(PortalError):
    """The request is no longer waiting for this decision: someone else acted first."""


# --- The catalogue ---------------------------------------------------------------------------


class CatalogueError(PortalError):
    """A catalogue change the portal refuses."""


# --- Provisioning and credentials -----------------------------------------------------------


class ProvisioningNotAllowed(PortalError):
    """The actor may not operate provisioning (retry)."""


class CredentialsNotAllowed(PortalError):
    """The actor may not re-issue credentials."""


class CredentialLinkNotFound(PortalError):
    """No such link for this person (someone else's links do not exist, as far as they know)."""


# --- Offboarding ----------------------------------------------------------------------------


class OffboardingError(PortalError):
    """An offboarding the portal refuses, with a message fit to show HR."""


class OffboardingNotAllowed(OffboardingError):
    """The actor may not offboard this person."""


class OffboardingAlreadyRunning(OffboardingError):
    """The person's previous offboarding has not finished yet."""


class OffboardingBusy(Exception):
    """Another worker is tearing this offboarding down right now."""


# --- Access over time (provisioning/lifecycle) ----------------------------------------------


class GrantError(PortalError):
    """A change to a grant the portal refuses."""


class GrantNotFound(GrantError):
    """No such grant (or one the actor may not see)."""


class GrantNotAllowed(GrantError):
    """The actor may not end or extend this grant."""


class GrantNotActive(GrantError):
    """The grant is already ending or has ended."""


class ReviewError(PortalError):
    """An access review change the portal refuses."""


class ReviewNotAllowed(ReviewError):
    """The actor may not start a campaign, or decide this review item."""


class AlreadyReviewed(ReviewError):
    """The review item was decided already (by someone else, or at the deadline)."""
