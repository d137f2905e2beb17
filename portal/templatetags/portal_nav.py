"""The main navigation marks where the person is (`aria-current="page"`)."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Pages whose address is the start of others' (every /access/… page is not "My access").
_EXACT = {"home", "my_access"}


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, url_name: str, label: str) -> SafeString:
    """`<a href=…>label</a>`, marked current on its page and on the pages beneath it."""
    href = reverse(url_name)
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == href or (url_name not in _EXACT and path.startswith(href))
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)
