"""Guardrails: the seed's practices held every day, not only on the day access is handed out.

- `mfa`: a virtual MFA device enrolled at hand-over (or later from My access), its seed sealed
  while the person scans it, enabled with two consecutive codes that AWS checks.
- `rotation`: a person rotates their access key; the new one arrives through a one-time link,
  the old one is kept for an overlap, then deactivated (once the new key is used, or the overlap
  ends) and deleted.
- `key_age`: keys past the maximum age are deactivated after two reminders; a security admin
  can extend a key once, with a reason.
- `unused`: console passwords and keys unused for the configured days are disabled after a
  warning.
- `drift` and `drift_actions`: a scan finds what IAM holds that the portal did not make; a
  security admin removes, adopts or accepts each finding.
- `compliance`: the account scored against the CIS AWS Foundations IAM controls, with history;
  `password_policy` sets the CIS password policy.
- `runs`: the periodic jobs' claim (a conditional UPDATE), fence and recorded steps.
"""
