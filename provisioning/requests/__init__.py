"""Access requests: planning and submitting them, deciding them, cancelling, reminders.

`plan` works out what a submission creates; `submit` creates it; `decisions` holds who may
decide which stage and the approvals and rejections; `cancel` ends requests; `reminders`
nudges approvers. `selectors` holds the reads of the request pages."""
