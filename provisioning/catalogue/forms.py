"""The role-group form: validates against IAM's own rules so a sync never fails on a typo.
It only validates; the view hands `cleaned_data` to the catalogue services."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from provisioning.lifecycle.rules import MAX_HOURS_LIMIT
from provisioning.models import RoleGroup

# IAM: group names are 1-128 of [\w+=,.@-]; ASCII only.
IAM_GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
# A managed policy: AWS's own (account "aws") or a customer-managed one in a 12-digit account,
# optionally under a path ("policy/service-role/Name").
POLICY_ARN = re.compile(
    r"arn:aws:iam::(aws|\d{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}", re.ASCII
)
# AWS allows 10 managed policies per group; the portal's MFA policy takes one.
MAX_POLICIES = 9


class RoleGroupForm(forms.ModelForm):
    show_optional = True  # "(optional)" after the labels of fields that are not required

    managed_policy_arns = forms.CharField(
        label="Managed policy ARNs",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        required=False,
        help_text=(
            "One per line, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess. The portal adds its "
            f"MFA policy to every group itself. At most {MAX_POLICIES}."
        ),
    )

    class Meta:
        model = RoleGroup
        fields = [
            "name",
            "description",
            "iam_group_name",
            "managed_policy_arns",
            "sensitive",
            "max_duration_days",
            "temporary_only",
            "max_duration_hours",
            "ending_removes_credentials",
            "active",
        ]
        labels = {
            "iam_group_name": "IAM group name",
            "sensitive": "Sensitive (needs a second approval by a security admin)",
            "max_duration_days": "Maximum duration (days)",
            "temporary_only": "Temporary only (granted for hours: break-glass)",
            "max_duration_hours": "Maximum duration (hours, for temporary access)",
            "ending_removes_credentials": (
                "When it is a person's last role-group and it ends, remove their console "
                "password and access keys too"
            ),
            "active": "Active (people can request it; synced to AWS)",
        }
        help_texts = {
            "iam_group_name": "Letters, digits and + = , . @ _ - only; at most 128 characters.",
            "max_duration_days": "Leave empty for no limit.",
            "temporary_only": "",
            "max_duration_hours": f"1 to {MAX_HOURS_LIMIT}; only for temporary role-groups.",
            "ending_removes_credentials": "",
            "sensitive": "",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["managed_policy_arns"] = "\n".join(self.instance.managed_policy_arns)
        self.fields["max_duration_days"].widget.attrs.update({"min": 1, "max": 3650})
        self.fields["max_duration_hours"].widget.attrs.update({"min": 1, "max": MAX_HOURS_LIMIT})

    def clean_iam_group_name(self) -> str:
        name = self.cleaned_data["iam_group_name"].strip()
        if not IAM_GROUP_NAME.fullmatch(name):
            raise forms.ValidationError(
                "Use only letters, digits and + = , . @ _ - (at most 128 characters)."
            )
        return name

    def clean_managed_policy_arns(self) -> list[str]:
        arns: list[str] = []
        for number, line in enumerate(self.cleaned_data["managed_policy_arns"].splitlines(), 1):
            arn = line.strip()
            if not arn:
                continue
            if not POLICY_ARN.fullmatch(arn):
                raise forms.ValidationError(
                    f"Line {number} is not a managed policy ARN "
                    "(arn:aws:iam::aws:policy/Name or arn:aws:iam::123456789012:policy/Name)."
                )
            if arn not in arns:
                arns.append(arn)
        if len(arns) > MAX_POLICIES:
            raise forms.ValidationError(
                f"AWS allows {MAX_POLICIES + 1} policies per group and the portal adds its MFA "
                f"policy: list at most {MAX_POLICIES}."
            )
        return arns

    def clean_max_duration_days(self) -> int | None:
        days = self.cleaned_data["max_duration_days"]
        if days is not None and not 1 <= days <= 3650:
            raise forms.ValidationError("Between 1 and 3650 days, or empty for no limit.")
        return days

    def clean_max_duration_hours(self) -> int | None:
        hours = self.cleaned_data["max_duration_hours"]
        if hours is not None and not 1 <= hours <= MAX_HOURS_LIMIT:
            raise forms.ValidationError(f"Between 1 and {MAX_HOURS_LIMIT} hours.")
        return hours

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("temporary_only"):
            if cleaned.get("max_duration_hours") is None:
                self.add_error(
                    "max_duration_hours", "Say for how many hours at most it is granted."
                )
            if cleaned.get("max_duration_days") is not None:
                self.add_error(
                    "max_duration_days",
                    "Temporary access is limited in hours: leave the days empty.",
                )
        elif cleaned.get("max_duration_hours") is not None:
            self.add_error(
                "max_duration_hours",
                "Hours apply to temporary role-groups only: tick it or leave this empty.",
            )
        return cleaned
