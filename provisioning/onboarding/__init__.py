"""Onboarding: provisioning an approved access request in IAM (run by the Celery worker).

A run first claims the request with a conditional UPDATE: `approved` → `provisioning`, or a
`provisioning` request whose claim has lapsed (PROVISIONING_LEASE_SECONDS after its last
recorded step, longer than the task's hard time limit, so the run that held it is dead). The
claim bumps `attempts`, which then fences every later write: a run that somehow lost its claim
cannot record anything.

Then the steps, each recorded in `steps_done` in the transaction that records its outcome and
its audit row (with the AWS request ids), so a re-run after a crash resumes where the dead run
stopped instead of repeating it:

- "iam_user": the person's live IAM user, or a new one tagged with the request and the owner
  (a user left by a crashed run is recognised by its tags).
- "group": the role-group's IAM group membership, and its Grant row.
- "console": a console password generated to the account policy is sealed into a credential
  link and committed *before* CreateLoginProfile(PasswordResetRequired=True), so a crash never
  leaves a password in AWS that nobody knows; a re-run sets the same password again. An
  existing console login is kept; one no longer wanted is removed.
- "access_key": keys of the user the portal has not recorded are deleted (a crash between
  CreateAccessKey and recording it left them), then a key is created and its secret sealed in
  the transaction that records its id. Keys no longer wanted are deleted.
- "notify": the credential link is issued and this step recorded in one transaction, then the
  email is sent. Recording before sending is what makes a crash produce at most one credential
  email: a re-run that finds "notify" never sends again. If the worker dies in the instant
  between that commit and the hand-over to the mail server, no email goes out; the request is
  then marked as needing attention, and a security admin re-issues the link.
- "active": the request is active, `provisioned_at` set.

Transient AWS errors (throttling, 5xx, connection) release the claim and ask the task to retry
with backoff; permanent ones, or transient ones past the last retry, mark the request failed
with a readable reason and email the security admins and the requester.

Modules: `claims` (the claim, its fence and the recorded steps), `steps` (each step),
`run` (the run, its failure and release), `sweep` (re-enqueueing stuck requests), `retry`
(a security admin's retry), `selectors` (what counts as stuck).
"""
