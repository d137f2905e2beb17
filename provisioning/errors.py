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
