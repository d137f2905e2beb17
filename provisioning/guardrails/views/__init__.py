"""The guardrails' pages, by topic: `mfa` and `credentials` (each person's), `keys`, `drift`
and `compliance` (security admins)."""
