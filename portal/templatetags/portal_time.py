"""One way to show time, everywhere (a builtin of every template, emails included):

- `when`: a moment, "2 Dec 2026, 14:05 UTC", in the portal's time zone (TIME_ZONE) and saying
  which;
- `day`: a date, "2 Dec 2026";
- `waited`: how long ago, in the largest unit that fits: "just now", "5 min", "3 h", "2 days".
"""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()

WHEN = "j M Y, H:i T"
DAY = "j M Y"


@register.filter
def when(value: datetime | None) -> str:
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, WHEN)


@register.filter
def day(value: date | datetime | None) -> str:
    if not value:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, DAY)


@register.filter
def waited(value: datetime | None) -> str:
    if not value:
        return ""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
