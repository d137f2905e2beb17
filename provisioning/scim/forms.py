"""The security admins' form for a new SCIM token."""

from __future__ import annotations

from django import forms

from provisioning.models import ScimToken
from provisioning.scim.tokens import NAME_PATTERN


class ScimTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="Which identity provider uses it, e.g. okta or entra-prod. The audit trail "
        "names the token's calls scim:<name>.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    scopes = forms.MultipleChoiceField(
        label="What it may do",
        choices=ScimToken.Scope.choices,
        initial=[scope for scope in ScimToken.Scope.values],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one thing the token may do."},
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip().lower()
        if not NAME_PATTERN.match(name):
            raise forms.ValidationError(
                "Use lower-case letters, digits, dots, dashes or underscores, e.g. okta."
            )
        if ScimToken.objects.filter(name=name).exists():
            raise forms.ValidationError(f"There is already a token named {name}.")
        return name
