from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import ApprovalEmails, User
from accounts.selectors import is_current, manager_problem, person_by_email

IMPORT_MAX_BYTES = 2 * 1024 * 1024


def _department_field() -> forms.CharField:
    return forms.CharField(
        max_length=User._meta.get_field("department").max_length,
        required=False,
        widget=forms.TextInput(attrs={"list": "departments", "autocomplete": "off"}),
    )


def _manager_field() -> forms.CharField:
    # A searchable picker that needs no JavaScript: the browser filters the <datalist> of
    # current people (name and email) as HR types; what is submitted is the email.
    return forms.CharField(
        label="Manager",
        required=False,
        max_length=254,
        help_text="Type a name or an email and pick from the list; leave empty for no "
        "manager. The manager must be someone still working here.",
        widget=forms.TextInput(attrs={"list": "people", "autocomplete": "off"}),
    )


def manager_from_input(value: str) -> User | None:
    """The person named by the picker's value (an email, as the list gives it), or a clear
    error for anything else."""
    value = value.strip()
    if not value:
        return None
    try:
        validate_email(value)
    except ValidationError:
        raise forms.ValidationError(
            f"“{value}” is not someone in the directory: pick a person from the list, or type "
            "their email address."
        ) from None
    manager = person_by_email(value)
    if manager is None:
        raise forms.ValidationError(f"No one in the directory has the email {value}.")
    return manager


class PersonEditForm(forms.Form):
    department = _department_field()
    manager = _manager_field()

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
        manager = manager_from_input(self.cleaned_data["manager"])
        problem = manager_problem(person=self.person, manager=manager)
        if problem:
            raise forms.ValidationError(problem)
        return manager


class PersonCreateForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    full_name = forms.CharField(label="Full name", max_length=200)
    department = _department_field()
    manager = _manager_field()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if person_by_email(email) is not None:
            raise forms.ValidationError(f"{email} is already in the directory.")
        return email

    def clean_manager(self) -> User | None:
        manager = manager_from_input(self.cleaned_data["manager"])
        if manager is not None and not is_current(manager):
            raise forms.ValidationError(
                f"{manager.email} has left the organisation and cannot be a manager."
            )
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
