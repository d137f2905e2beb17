"""The role-group form: validates against IAM's own rules so a sync never fails on a typo.
It only validates; the view hands `cleaned_data` to the catalogue services."""

from __future__ import annotations

import re
from typing import Any

from django import forms

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
            "active",
        ]
        labels = {
            "iam_group_name": "IAM group name",
            "sensitive": "Sensitive (needs a second approval by a security admin)",
            "max_duration_days": "Maximum duration (days)",
            "active": "Active (people can request it; synced to AWS)",
        }
        help_texts = {
            "iam_group_name": "Letters, digits and + = , . @ _ - only; at most 128 characters.",
            "max_duration_days": "Leave empty for no limit.",
            "sensitive": "",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["managed_policy_arns"] = "\n".join(self.instance.managed_policy_arns)
        self.fields["max_duration_days"].widget.attrs.update({"min": 1, "max": 3650})

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
