"""Forms of the access review pages: starting a campaign, deciding an item."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from provisioning.lifecycle.ending import REASON_MAX_LENGTH
from provisioning.lifecycle.reviews import NAME_MAX_LENGTH
from provisioning.models import AccessReview, ReviewItem, RoleGroup


class CampaignForm(forms.Form):
    SCOPES = (("all", "Every live grant"), ("chosen", "Only the role-groups ticked below"))

    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        label="Name",
        help_text="For reviewers and the report, e.g. “Q1 2027 access review”.",
        error_messages={"required": "Name the review."},
    )
    deadline = forms.DateField(
        label="Deadline",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Reviewers decide by the end of this day.",
        error_messages={"required": "Choose a deadline.", "invalid": "Enter a date."},
    )
    scope = forms.ChoiceField(
        choices=SCOPES, widget=forms.RadioSelect, initial="all", label="Scope"
    )
    role_groups = forms.ModelMultipleChoiceField(
        queryset=RoleGroup.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Role-groups",
    )
    at_deadline = forms.ChoiceField(
        choices=AccessReview.AtDeadline.choices,
        widget=forms.RadioSelect,
        initial=AccessReview.AtDeadline.ESCALATE,
        label="At the deadline",
    )

    def clean_deadline(self) -> date:
        deadline: date = self.cleaned_data["deadline"]
        if deadline <= timezone.localdate():
            raise forms.ValidationError("Choose a day after today: reviewers need time.")
        return deadline

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("scope") == "chosen" and not cleaned.get("role_groups"):
            self.add_error("role_groups", "Tick at least one role-group, or review every grant.")
        if cleaned.get("scope") == "all":
            cleaned["role_groups"] = []
        return cleaned


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=((ReviewItem.Decision.KEEP, "Keep"), (ReviewItem.Decision.REVOKE, "Revoke")),
        error_messages={
            "required": "Choose keep or revoke.",
            "invalid_choice": "Choose keep or revoke.",
        },
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason (required to revoke; the holder reads it)",
    )
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("decision") == ReviewItem.Decision.REVOKE
            and not cleaned.get("reason", "").strip()
        ):
            self.add_error("reason", "Give a reason for revoking: the holder will read it.")
        return cleaned
