from __future__ import annotations

from typing import Any

from django import forms


class AuditFilterForm(forms.Form):
    person = forms.CharField(
        required=False, max_length=254, help_text="Email or person id, as actor or target."
    )
    actor = forms.CharField(required=False, max_length=254)
    action = forms.CharField(
        required=False, max_length=64, help_text="Prefix, e.g. request. or iam.user."
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date must be on or before the end date.")
        return data
