from __future__ import annotations

import re
from typing import Any, cast

from django import forms

from audit.actions import action_choices
from audit.selectors import PEOPLE_MATCH_LIMIT, audit_action_names, people_matching

ACTION_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")


class AuditFilterForm(forms.Form):
    person = forms.CharField(
        required=False,
        max_length=254,
        help_text="Email, name or person id: what they did and what was done to them.",
    )
    actor = forms.CharField(
        required=False, max_length=254, help_text="Who acted: an email or a system name."
    )
    action = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to choose several.",
    )
    target = forms.CharField(
        required=False, max_length=200, help_text="Exactly, e.g. access_request:12."
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = action_choices(audit_action_names())
        offered = {value for _, options in choices for value, _ in options}
        # A well-formed name the trail does not hold (yet), from a bookmark say, is still a
        # valid filter: it matches nothing, which is the truth.
        chosen = self.data.getlist("action") if hasattr(self.data, "getlist") else []
        absent = [name for name in chosen if name not in offered and ACTION_NAME.fullmatch(name)]
        if absent:
            choices.append(("Not in the trail", [(name, name) for name in absent]))
        cast(forms.MultipleChoiceField, self.fields["action"]).choices = choices

    def clean_person(self) -> list[int]:
        text = self.cleaned_data.get("person", "").strip()
        if not text:
            return []
        people = people_matching(text)
        if not people:
            raise forms.ValidationError(f"No one in the portal matches “{text}”.")
        if len(people) > PEOPLE_MATCH_LIMIT:
            raise forms.ValidationError(
                f"More than {PEOPLE_MATCH_LIMIT} people match “{text}”: give more of the name "
                "or the whole email."
            )
        return people

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The start date must be on or before the end date.")
        return data

    def filters(self) -> dict[str, Any]:
        """The cleaned filters as `audit_events` takes them."""
        data = self.cleaned_data
        return {
            "people": data.get("person") or [],
            "actor": data.get("actor", ""),
            "actions": data.get("action") or [],
            "target": data.get("target", "").strip(),
            "since": data.get("since"),
            "until": data.get("until"),
        }
