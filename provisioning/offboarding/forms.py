"""HR's choice when confirming an offboarding."""

from __future__ import annotations

from django import forms

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


class DeclineForm(forms.Form):
    reason = forms.CharField(
        max_length=DECLINE_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for declining (HR will read it)",
        error_messages={"required": "Give a reason for declining: HR will read it."},
    )
