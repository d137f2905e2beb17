"""The approval digest: one email a day to an approver who asked for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApprovalDigest(models.Model):
    """One digest sent: claimed by inserting the row, so two runs never send it twice."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "day"], name="one_digest_a_day")
        ]

    def __str__(self) -> str:
        return f"Digest for {self.recipient_id} on {self.day}"
