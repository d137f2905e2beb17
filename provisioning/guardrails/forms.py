"""The guardrails' forms: MFA codes, a key-age extension, and the answers to a drift finding."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from common import time

_CODE = re.compile(r"^\d{6}$")


class MfaCodesForm(forms.Form):
    code_1 = forms.CharField(
        label="First code",
        help_text="The six digits your app shows now.",
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    code_2 = forms.CharField(
        label="Next code",
        help_text="Wait for the code to change, then type the new one.",
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def _code(self, name: str) -> str:
        code = re.sub(r"\s", "", self.cleaned_data[name])
        if not _CODE.match(code):
            raise forms.ValidationError("Enter the six digits your authenticator app shows.")
        return code

    def clean_code_1(self) -> str:
        return self._code("code_1")

    def clean_code_2(self) -> str:
        return self._code("code_2")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("code_1") and data.get("code_1") == data.get("code_2"):
            raise forms.ValidationError(
                "The two codes are the same: wait for your app to show the next code."
            )
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        min_length=10,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"min_length": "Say why, in at least 10 characters."},
    )


class DriftAcceptForm(ReasonForm):
    until = forms.DateField(
        label="Accepted until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The next scan after this date reopens the finding.",
    )

    def clean_until(self) -> date:
        until: date = self.cleaned_data["until"]
        today = timezone.localdate()
        latest = today + timedelta(days=settings.DRIFT_ACCEPT_MAX_DAYS)
        if not today < until <= latest:
            raise forms.ValidationError(
                f"Pick a date after today and no later than {time.day(latest)}."
            )
        return until


class DriftAdoptForm(forms.Form):
    owner = forms.EmailField(
        label="Owner's email",
        help_text="The person this IAM user belongs to; it then follows their access.",
    )

    def clean_owner(self) -> User:
        email = self.cleaned_data["owner"].strip().lower()
        person = User.objects.filter(email__iexact=email, is_active=True).first()
        if person is None:
            raise forms.ValidationError(f"No current person in the portal has the email {email}.")
        return person
