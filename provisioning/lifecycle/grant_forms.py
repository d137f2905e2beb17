"""Forms of the grant pages: extend, revoke, temporary access. They validate and normalise;
the lifecycle services decide."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from provisioning.lifecycle import rules, selectors
from provisioning.lifecycle.ending import REASON_MAX_LENGTH
from provisioning.models import AccessRequest, Grant, RoleGroup
from provisioning.requests.plan import JUSTIFICATION_MAX_LENGTH, JUSTIFICATION_MIN_LENGTH


def _justification_field(help_text: str) -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=JUSTIFICATION_MIN_LENGTH,
        max_length=JUSTIFICATION_MAX_LENGTH,
        label="Justification",
        help_text=help_text,
        error_messages={
            "required": "Say why you need it: your approver reads it.",
            "min_length": (
                f"Explain why in at least {JUSTIFICATION_MIN_LENGTH} characters "
                "(you wrote %(show_value)d)."
            ),
            "max_length": (
                f"Keep the justification to {JUSTIFICATION_MAX_LENGTH} characters "
                "(you wrote %(show_value)d)."
            ),
        },
    )


def _hours_field(maximum: int) -> forms.IntegerField:
    return forms.IntegerField(
        label="For how many hours",
        min_value=1,
        max_value=maximum,
        help_text=f"From the moment it is approved; at most {maximum}.",
        widget=forms.NumberInput(attrs={"min": 1, "max": maximum}),
        error_messages={
            "required": "Say for how many hours.",
            "min_value": "At least 1 hour.",
            "max_value": f"At most {maximum} hours.",
            "invalid": "Enter a whole number of hours.",
        },
    )


class ExtendForm(forms.Form):
    """A later end for a grant: a date, or (temporary access) hours from approval."""

    def __init__(self, *args: Any, grant: Grant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grant = grant
        role_group = grant.role_group
        if role_group.temporary_only:
            self.fields["duration_hours"] = _hours_field(rules.max_hours(role_group))
        else:
            help_text = (
                f"After the current end ({grant.ends_on:%d %b %Y})" if grant.ends_on else "Later"
            )
            if role_group.max_duration_days:
                help_text += (
                    f", at most {role_group.max_duration_days} days from today. Leave empty for "
                    "the longest allowed."
                )
            self.fields["end_date"] = forms.DateField(
                required=not role_group.max_duration_days,
                label="New end date",
                widget=forms.DateInput(attrs={"type": "date"}),
                help_text=help_text + ".",
                error_messages={"required": "Choose the new end date.", "invalid": "Enter a date."},
            )
        self.fields["justification"] = _justification_field(
            "Why you still need it, for your approver."
        )

    def clean_end_date(self) -> date | None:
        end_date: date | None = self.cleaned_data.get("end_date")
        if end_date is not None and end_date < timezone.localdate():
            raise forms.ValidationError("The end date cannot be in the past.")
        if end_date is not None and self.grant.ends_on and end_date <= self.grant.ends_on:
            raise forms.ValidationError(
                f"Choose a date after the current end ({self.grant.ends_on:%d %b %Y})."
            )
        return end_date


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason (the holder and their manager will read it)",
        error_messages={"required": "Give a reason for revoking: the holder will read it."},
    )


class TemporaryRoleGroupField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        hours = rules.max_hours(obj)
        return f"{obj.name} (at most {hours} hours{', two approvals' if obj.sensitive else ''})"


class ElevationForm(forms.Form):
    role_group = TemporaryRoleGroupField(
        queryset=RoleGroup.objects.none(),
        label="Temporary access to",
        empty_label="Choose…",
        error_messages={
            "required": "Choose the temporary access you need.",
            "invalid_choice": "That temporary access does not exist or is no longer offered.",
        },
    )
    duration_hours = _hours_field(rules.MAX_HOURS_LIMIT)
    justification = _justification_field(
        "What you must do with it, for your approver (an incident or change number helps)."
    )
    access_type = forms.ChoiceField(
        choices=AccessRequest.AccessType.choices,
        widget=forms.RadioSelect,
        label="How you will sign in (you have no IAM user yet)",
        initial=AccessRequest.AccessType.CONSOLE,
        required=False,
    )

    def __init__(self, *args: Any, has_iam_user: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["role_group"]
        if isinstance(field, forms.ModelChoiceField):
            field.queryset = selectors.temporary_role_groups()
            maxima = {rules.max_hours(group) for group in field.queryset}
            self.fields["duration_hours"].help_text = (
                f"From the moment it is approved; at most {maxima.pop()}."
                if len(maxima) == 1
                else "From the moment it is approved; at most the maximum listed below."
            )
        if has_iam_user:
            del self.fields["access_type"]
        else:
            self.fields["access_type"].required = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        role_group = cleaned.get("role_group")
        hours = cleaned.get("duration_hours")
        if role_group is not None and hours is not None and hours > rules.max_hours(role_group):
            self.add_error(
                "duration_hours",
                f"{role_group.name} is granted for at most {rules.max_hours(role_group)} hours.",
            )
        return cleaned
