from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import ApprovalEmails, User
from accounts.selectors import manager_problem, person_by_email

IMPORT_MAX_BYTES = 2 * 1024 * 1024


class PersonEditForm(forms.Form):
    department = forms.CharField(
        max_length=User._meta.get_field("department").max_length,
        required=False,
        widget=forms.TextInput(attrs={"list": "departments", "autocomplete": "off"}),
    )
    manager = forms.EmailField(
        label="Manager's email address",
        required=False,
        help_text="Leave empty for no manager. The manager must be someone still working here.",
    )

    def __init__(self, *args: Any, person: User, **kwargs: Any) -> None:
        self.person = person
        kwargs.setdefault(
            "initial",
            {
                "department": person.department,
                "manager": person.manager.email if person.manager else "",
            },
        )
        super().__init__(*args, **kwargs)

    def clean_manager(self) -> User | None:
        email = self.cleaned_data["manager"]
        if not email:
            return None
        manager = person_by_email(email)
        if manager is None:
            raise forms.ValidationError(f"No one in the directory has the email {email}.")
        problem = manager_problem(person=self.person, manager=manager)
        if problem:
            raise forms.ValidationError(problem)
        return manager


class PeopleImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: email, full_name, department, manager_email (header row required).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large

    def clean(self) -> dict[str, Any]:
        if self.too_large:
            # The upload stopped at the limit: say so, rather than "choose a file".
            self.errors.pop("file", None)
            raise forms.ValidationError(self._too_large_message())
        return super().clean() or {}

    def _too_large_message(self) -> str:
        return f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB; split it."

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(self._too_large_message())
        return upload.read()


class PreferencesForm(forms.Form):
    approval_emails = forms.ChoiceField(
        label="When requests wait for my decision, send me",
        choices=ApprovalEmails.choices,
        widget=forms.RadioSelect,
    )
