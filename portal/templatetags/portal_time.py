"""The template side of common/time.py: `when`, `day`, `waited` and `ago`, builtins of every
template (emails included), so no template formats a date its own way."""

from __future__ import annotations

from django import template

from common import time

register = template.Library()

register.filter("when", time.when)
register.filter("day", time.day)
register.filter("waited", time.waited)
register.filter("ago", time.ago)
