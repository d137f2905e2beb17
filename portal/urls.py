from __future__ import annotations

from django.conf import settings
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Before allauth's own: people do not manage their email addresses (see the view).
    path("accounts/email/", views.email_managed_by_hr, name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("people/", include("accounts.urls")),
    path("access/", include("provisioning.urls")),
    path("audit/", include("audit.urls")),
]

if settings.DEBUG and settings.EMAIL_OUTBOX_DIR is not None:
    # The demo's outbox: never in production (settings refuse outbox:// there).
    urlpatterns += [
        path("outbox/", views.outbox, name="outbox"),
        path("outbox/<str:name>", views.outbox_message, name="outbox_message"),
    ]
