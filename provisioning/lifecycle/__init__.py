"""Access over time: every grant has an end, and history is kept.

- `ending`: deciding that a grant ends, one function and one audit action per end
  (`grant.expired`, `grant.revoked`, `grant.relinquished`, `grant.offboarded`);
- `removal`: the worker's removal of an ending grant from IAM, resumable step by step;
- `expiry`: the beat job (and `manage.py access_expire`): ending what is due, warnings 7 days
  and 1 day before, re-enqueueing lost removals;
- `extend`: an extension, asked for and approved like a request, applied by the worker;
- `elevation`: temporary access (break-glass), granted for hours;
- `reviews`, `review_deadlines`, `review_report`: access review campaigns and their evidence;
- `rules` (pure: how far an end may go), `selectors`, `notifications`, `models` (the review
  tables), and the pages: `grant_forms`/`grant_views`, `review_forms`/`review_views`.

A grant is live while `revoked_at` is empty: "active", or "ending" once its end is decided
and until the worker has removed the IAM membership; then "ended", kept as history.
"""
