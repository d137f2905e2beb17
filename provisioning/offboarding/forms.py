"""HR's choice when confirming an offboarding."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from provisioning.models import Offboarding
from provisioning.offboarding.start import DECLINE_REASON_MAX_LENGTH


class OffboardForm(forms.Form):
    mode = forms.ChoiceField(
        label="Their IAM users",
        choices=[
            (
                Offboarding.Mode.DELETE,
                "Delete them (default): every credential, policy and group membership "
                "removed, then the user itself",
            ),
            (
                Offboarding.Mode.DISABLE,
                "Disable and keep them for retention: every credential removed, a deny-all "
                "policy attached and the user tagged as offboarded",
            ),
        ],
        initial=Offboarding.Mode.DELETE,
        widget=forms.RadioSelect,
    )
    when = forms.ChoiceField(
        label="When",
        choices=[
            ("now", "Now"),
            ("scheduled", "At the end of their last working day (midnight, portal time zone)"),
        ],
        initial="now",
        required=False,
        widget=forms.RadioSelect,
    )
    last_working_day = forms.DateField(
        label="Last working day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="HR is reminded the day before; the offboarding starts when the day ends.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["when"] = cleaned.get("when") or "now"
        day: date | None = cleaned.get("last_working_day")
        if cleaned.get("when") == "scheduled":
            if day is None:
                self.add_error("last_working_day", "Choose their last working day.")
            elif day < timezone.localdate():
                self.add_error(
                    "last_working_day",
                    "The last working day cannot be in the past: choose “Now” instead.",
                )
        return cleaned


class DeclineForm(forms.Form):
    reason = forms.CharField(
        max_length=DECLINE_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for declining (HR will read it)",
        error_messages={"required": "Give a reason for declining: HR will read it."},
    )
