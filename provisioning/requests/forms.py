"""Forms of the access-request pages. They validate and normalise; services decide."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import User
from provisioning.catalogue.selectors import role_groups_offered
from provisioning.models import AccessRequest, RoleGroup
from provisioning.requests import selectors
from provisioning.requests.decisions import BULK_MAX, REASON_MAX_LENGTH
from provisioning.requests.plan import JUSTIFICATION_MAX_LENGTH, JUSTIFICATION_MIN_LENGTH


class RoleGroupChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (sensitive: two approvals)" if obj.sensitive else obj.name


class AccessRequestForm(forms.Form):
    role_group = RoleGroupChoiceField(
        queryset=RoleGroup.objects.none(),
        required=False,
        label="Role-group",
        error_messages={
            "invalid_choice": "That role-group does not exist or is no longer offered.",
        },
    )
    same_as = forms.EmailField(
        required=False,
        label="Or: the same access as a colleague (their email)",
        help_text="Asks for each role-group they hold that you do not have yet.",
    )
    access_type = forms.ChoiceField(
        choices=AccessRequest.AccessType.choices,
        widget=forms.RadioSelect,
        label="Access type",
        initial=AccessRequest.AccessType.CONSOLE,
    )
    remove_confirmed = forms.BooleanField(
        required=False,
        label="Yes, remove the access I no longer want (whatever uses it stops working)",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=JUSTIFICATION_MIN_LENGTH,
        max_length=JUSTIFICATION_MAX_LENGTH,
        label="Justification",
        help_text=(
            f"Why you need it, for your manager: {JUSTIFICATION_MIN_LENGTH} to "
            f"{JUSTIFICATION_MAX_LENGTH} characters."
        ),
        error_messages={
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
    end_date = forms.DateField(
        required=False,
        label="End date (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for no end date, or the role-group's maximum if it has one.",
    )

    def __init__(
        self,
        *args: Any,
        requester: User,
        has_iam_user: bool,
        current_access_type: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.requester = requester
        self.has_iam_user = has_iam_user
        self.current_access_type = current_access_type
        if current_access_type:
            # What the person has now: asking for another role-group never drops a
            # credential unless they choose so.
            self.fields["access_type"].initial = current_access_type
            self.fields["access_type"].help_text = (
                f"You have {AccessRequest.AccessType(current_access_type).label.lower()} "
                "access now."
            )
        else:
            del self.fields["remove_confirmed"]
        field = self.fields["role_group"]
        if not isinstance(field, RoleGroupChoiceField):  # pragma: no cover (declared above)
            raise TypeError("role_group must be a RoleGroupChoiceField")
        # Temporary access has its own page (provisioning/lifecycle), asked for in hours.
        field.queryset = role_groups_offered().filter(temporary_only=False)
        field.empty_label = (
            "No new role-group: only change my access type" if has_iam_user else "Choose…"
        )

    def clean_same_as(self) -> User | None:
        email = self.cleaned_data["same_as"]
        if not email:
            return None
        colleague = User.objects.filter(email__iexact=email, is_active=True).first()
        if colleague is None:
            raise forms.ValidationError("No active colleague has that email address.")
        if colleague.pk == self.requester.pk:
            raise forms.ValidationError("Choose a colleague other than yourself.")
        if not selectors.is_teammate(self.requester, colleague):
            # Someone's role-groups are theirs to know: only teammates' are copied here.
            raise forms.ValidationError(
                "You can copy the access of a colleague on your team (the same manager or "
                "department). For anyone else, ask your manager which role-groups you need."
            )
        return colleague

    def clean_end_date(self) -> date | None:
        end_date = self.cleaned_data["end_date"]
        if end_date is not None and end_date < timezone.localdate():
            raise forms.ValidationError("The end date cannot be in the past.")
        return end_date

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        role_group = cleaned.get("role_group")
        colleague = cleaned.get("same_as")
        if role_group is not None and colleague is not None:
            raise forms.ValidationError("Choose a role-group or a colleague to copy, not both.")
        if (
            role_group is None
            and colleague is None
            and not self.has_iam_user
            and "role_group" not in self.errors
            and "same_as" not in self.errors
        ):
            self.add_error(
                "role_group", "Choose a role-group, or a colleague whose access to copy."
            )
        removed = self._removed_by(cleaned.get("access_type") or "")
        if removed and not cleaned.get("remove_confirmed"):
            self.add_error(
                "access_type",
                f"This removes your {removed}: anything using it stops working. Keep your "
                'current access, or tick "Yes, remove" to confirm.',
            )
        return cleaned

    def _removed_by(self, access_type: str) -> str:
        """What choosing `access_type` would take away from the person's IAM user, in words."""
        removed = []
        has = self.current_access_type
        if has in ("console", "both") and access_type not in ("console", "both"):
            removed.append("console password")
        if has in ("programmatic", "both") and access_type not in ("programmatic", "both"):
            removed.append("access key")
        return " and ".join(removed)


class RequestIdsField(forms.Field):
    """A list of request ids (the ticked checkboxes). Any id may be posted; the services
    decide which ones the approver may act on."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return [int(item) for item in value]
        except (TypeError, ValueError):
            raise forms.ValidationError("Unknown request.") from None


class BulkDecisionForm(forms.Form):
    """The dashboard's form: approve one row, or approve/reject the ticked rows."""

    ACTIONS = (("approve", "Approve"), ("reject", "Reject"))

    request_ids = RequestIdsField(required=False)
    approve_one = forms.IntegerField(required=False, min_value=1)
    action = forms.ChoiceField(choices=ACTIONS, required=False)
    reason = forms.CharField(
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason (required to reject)",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("approve_one"):
            cleaned["action"] = "approve"
            cleaned["request_ids"] = [cleaned["approve_one"]]
            return cleaned
        if not cleaned.get("action"):
            raise forms.ValidationError("Choose approve or reject.")
        if not cleaned.get("request_ids"):
            raise forms.ValidationError("Select at least one request.")
        if len(cleaned["request_ids"]) > BULK_MAX:
            raise forms.ValidationError(f"Decide at most {BULK_MAX} requests at once.")
        if cleaned["action"] == "reject" and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Give a reason for rejecting: the requesters will read it.")
        return cleaned


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason (the requester will read it)",
        error_messages={"required": "Give a reason for rejecting: the requester will read it."},
    )
