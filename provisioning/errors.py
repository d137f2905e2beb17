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
