"""SCIM 2.0 (RFC 7643/7644) from the identity provider: its bearer tokens, the people it
pushes, and the leavers it announces.

It sits in provisioning, not accounts, because a leaver is offboarded from here
(`provisioning.offboarding.start`), and accounts never imports provisioning. The people
themselves are still written by accounts (`accounts.people_sync`), with HR's checks.
"""
