"""The one-time credential link: how a person receives a new password or access key.

A link starts as a row collecting a run's new credentials, sealed (`crypto`),
with no token. Issuing it draws a 32-byte random token, keeps only its SHA-256 and sets the
expiry; the token itself travels once, in the email. Revealing claims the link with one
conditional UPDATE (of two concurrent reveals exactly one wins) and wipes the ciphertext in
the same transaction. Re-issuing (security admins) kills the old link and makes new
credentials, since the old ones may never have reached their owner.

Modules: `links` (collecting, issuing, withdrawing, revoking), `reveal` (the one reveal),
`reissue` (new credentials by a security admin), `crypto` (sealing), `passwords`.
"""
