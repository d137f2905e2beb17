"""One way to show time, everywhere: templates (the `when`, `day`, `waited` and `ago` builtins in
portal/templatetags/portal_time.py), emails and form errors alike.

- `when`: a moment, "2 Dec 2026, 14:05 UTC", in the portal's time zone (TIME_ZONE) and saying
  which;
- `day`: a date, "2 Dec 2026";
- `waited`: how long since, in the largest unit that fits: "just now", "5 min", "3 h", "2 days";
- `ago`: the same, read as the past: "just now", "5 min ago".

Machine formats (CSV, JSON, the audit chain) keep ISO 8601.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

# Django's "j M Y, H:i T" and "j M Y", written out: a page shows a hundred of them, and
# dateformat parses its format string on every call. English month names, as Django's "M".
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when(value: datetime | None) -> str:
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    # A naive moment is read in the default zone, as Django's "T" does.
    zone = value.tzname() or timezone.get_default_timezone().tzname(value)
    return f"{day(value)}, {value.hour:02d}:{value.minute:02d} {zone}"


def day(value: date | datetime | None) -> str:
    if not value:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def waited(value: datetime | None, now: datetime | None = None) -> str:
    if not value:
        return ""
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    span = waited(value, now)
    return span if span in ("", "just now") else f"{span} ago"
