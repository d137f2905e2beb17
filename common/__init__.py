"""What several apps share: named advisory locks, templated email, the client's address.

A leaf: it imports nothing of ours, so any app may use it (the audit trail, which imports
nothing of ours at all, keeps its one lock key itself)."""
