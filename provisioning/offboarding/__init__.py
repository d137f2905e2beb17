"""Offboarding a leaver: cut the portal at once, tear down every IAM user in AWS's order, then
prove that nothing is left.

- `start`: HR's confirming transaction (or `manage.py offboard`).
- `teardown`: the worker's part, resumable step by step.
- `verify`: re-read IAM and record the report; completed only when nothing remains; and the
  worker's giving up.
- `report`: the evidence, by email and for download (JSON, CSV).
- `sweep`: re-enqueueing stuck teardowns. `selectors`: the blast radius and the reads.
"""
