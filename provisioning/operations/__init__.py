"""The operations page (security admins): failed and stuck requests, credentials that never
reached their owner, and re-issuing credentials. Reads only: the writes it offers belong to
onboarding (retry) and credentials (re-issue)."""
