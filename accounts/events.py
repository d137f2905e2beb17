"""Events of the people app that other apps act on. accounts imports nothing of
provisioning, so when a person's place in the org chart changes, provisioning (which routes
their requests to an approver) hears of it here instead of being called."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that gave people a new manager: `people` (list of User, their
# new manager already saved), `actor` (User or None for the command line), `ip`.
org_chart_changed = Signal()
