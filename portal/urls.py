from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path

from accounts import invitation_views, sso_views
from accounts import views as people_views
from portal import views
from provisioning.scim.api import scim_api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # Before allauth's own: people do not manage their email addresses (see the view).
    path("accounts/email/", views.email_managed_by_hr, name="account_email"),
    path("accounts/preferences/", people_views.preferences, name="preferences"),
    path("accounts/sso/<str:provider_id>/logout/", sso_views.sso_logout, name="sso_logout"),
    path(
        "accounts/invitation/<str:uidb64>/<str:token>/",
        invitation_views.invitation_accept,
        name="invitation_accept",
    ),
    path("accounts/", include("allauth.urls")),
    # The identity provider's SCIM 2.0 client: bearer tokens, no session (provisioning/scim).
    re_path(r"^scim/v2/(?P<path>.*)$", scim_api, name="scim_api"),
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
