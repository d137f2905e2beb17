"""HR's choice when confirming an offboarding."""

from __future__ import annotations

from django import forms

from provisioning.models import Offboarding


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
