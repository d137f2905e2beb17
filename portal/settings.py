"""Settings for the access portal.

Every value comes from the environment. The embedded defaults serve `make run` (SQLite, a
local moto server, an on-disk outbox); with PORTAL_ENV=production the values that must not
be guessed are required, and a missing one stops start-up with a message naming it.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))

PORTAL_ENV = os.environ.get("PORTAL_ENV", "development").strip().lower()
if PORTAL_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"PORTAL_ENV must be development, production or test, not {PORTAL_ENV!r}"
    )
PRODUCTION = PORTAL_ENV == "production"

_UNSET = object()


def env_str(name: str, default: object = _UNSET, *, required_in_production: bool = False) -> str:
    """A string from the environment; required in production when asked, never guessed."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if PRODUCTION and required_in_production:
        raise ImproperlyConfigured(f"{name} must be set when PORTAL_ENV=production")
    if default is _UNSET:
        raise ImproperlyConfigured(f"{name} must be set")
    return str(default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: str = "", **kwargs: bool) -> list[str]:
    return [item.strip() for item in env_str(name, default, **kwargs).split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", default=PORTAL_ENV == "development")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when PORTAL_ENV=production")

# The development default is public on purpose: it only ever signs demo sessions.
SECRET_KEY = env_str(
    "DJANGO_SECRET_KEY",
    "insecure-development-key-only-for-make-run-0123456789abcdefghij",
    required_in_production=True,
)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver", required_in_production=True
)
PORTAL_BASE_URL = env_str(
    "PORTAL_BASE_URL", "http://127.0.0.1:8000", required_in_production=True
).rstrip("/")
if PRODUCTION and not PORTAL_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("PORTAL_BASE_URL must be an https:// URL when PORTAL_ENV=production")
CSRF_TRUSTED_ORIGINS = [PORTAL_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "audit",
    "accounts",
    "provisioning",
    "portal.apps.PortalConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.RolesAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.PrivilegedMFAMiddleware",
    "accounts.middleware.PrivilegedIdleTimeoutMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
]

# The largest request body Django reads (forms; uploads have their own, smaller, limit that
# stops reading early: accounts/uploads.py). Set the proxy's body limit to the same value.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("PORTAL_MAX_REQUEST_BYTES", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
            # Every template shows time the same way (portal/templatetags/portal_time.py).
            "builtins": ["portal.templatetags.portal_time"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env_str(
    "DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}", required_in_production=True
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if PRODUCTION and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # No append-only trigger, no runtime role, no advisory locks: the demo's database only.
    raise ImproperlyConfigured("DATABASE_URL must be PostgreSQL when PORTAL_ENV=production")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server and worker share the file: wait for the other's lock, don't fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env_bool("PORTAL_DB_SERVER_BINDING", True):
    # Parameters bound by the server, and psycopg prepares a statement once it has run five
    # times on a connection: the pages' joins are planned once per connection, not per
    # request. Django sets psycopg's prepare_threshold to None (never) unless it is given.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People and sign-in ---------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# Never email an address that has no account here (the page says the same either way).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_RATE_LIMITS = {
    # "key" here is the account *and* the address it is tried from (accounts/adapters.py);
    # the account alone locks only at "login_failed_account".
    "login_failed": "20/5m/ip,5/5m/key",
    "login_failed_account": "50/15m/key",
    "login": "30/m/ip",
    "reset_password": "5/m/ip,3/m/key",
}
# The organisation's email domains: HR's import and edits, self sign-up and (later) the
# identity provider accept people only at these. Several may be listed.
PORTAL_ALLOWED_EMAIL_DOMAINS = [
    domain.lower().lstrip("@")
    for domain in env_list(
        "PORTAL_ALLOWED_EMAIL_DOMAINS", "example.com", required_in_production=True
    )
]
# People come from HR. Self sign-up (for the allowed domains only) is off unless turned on.
PORTAL_SELF_SIGNUP = env_bool("PORTAL_SELF_SIGNUP", False)
# Separation of duties: whoever placed a person in the org chart (created them, set or changed
# their manager) within this many days cannot approve that person's requests.
ORG_CHART_COOLDOWN_DAYS = env_int("ORG_CHART_COOLDOWN_DAYS", 30)

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "IAM Access Portal")
REQUIRE_MFA_FOR_PRIVILEGED = env_bool("REQUIRE_MFA_FOR_PRIVILEGED", default=PRODUCTION)

# --- Sign-in through the identity provider (OIDC, SAML) and SCIM ----------------------------
# One OpenID Connect provider from SSO_OIDC_ISSUER, SSO_OIDC_CLIENT_ID, SSO_OIDC_CLIENT_SECRET
# and SSO_OIDC_NAME (the button's label); more with SSO_OIDC_PROVIDERS=okta,entra and, for each
# id, SSO_OIDC_OKTA_ISSUER, SSO_OIDC_OKTA_CLIENT_ID, SSO_OIDC_OKTA_CLIENT_SECRET and
# SSO_OIDC_OKTA_NAME. Discovery comes from the issuer; the code flow uses PKCE, state and a
# nonce (accounts/adapters.py checks it). The callback is
# PORTAL_BASE_URL/accounts/oidc/<id>/login/callback/.
SSO_OIDC_ID = env_str("SSO_OIDC_ID", "sso").lower()
_PROVIDER_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _oidc_app(provider_id: str, issuer: str, client_id: str, secret: str, name: str) -> dict:
    if not set(provider_id) <= _PROVIDER_ID_CHARS:
        raise ImproperlyConfigured(
            f"SSO provider id {provider_id!r}: use lower-case letters, digits, - and _"
        )
    if not (issuer and client_id):
        raise ImproperlyConfigured(
            f"SSO provider {provider_id!r} needs its issuer and client id (and usually a secret)"
        )
    if PRODUCTION and not issuer.startswith("https://"):
        raise ImproperlyConfigured(f"SSO provider {provider_id!r}: the issuer must be https://")
    return {
        "provider_id": provider_id,
        "name": name or "your identity provider",
        "client_id": client_id,
        "secret": secret,
        "settings": {"server_url": issuer.rstrip("/"), "oauth_pkce_enabled": True},
    }


SSO_OIDC_APPS: list[dict] = []
if env_str("SSO_OIDC_ISSUER", ""):
    SSO_OIDC_APPS.append(
        _oidc_app(
            SSO_OIDC_ID,
            env_str("SSO_OIDC_ISSUER", ""),
            env_str("SSO_OIDC_CLIENT_ID", ""),
            env_str("SSO_OIDC_CLIENT_SECRET", ""),
            env_str("SSO_OIDC_NAME", ""),
        )
    )
for _provider_id in env_list("SSO_OIDC_PROVIDERS"):
    _prefix = f"SSO_OIDC_{_provider_id.upper().replace('-', '_')}"
    SSO_OIDC_APPS.append(
        _oidc_app(
            _provider_id.lower(),
            env_str(f"{_prefix}_ISSUER", ""),
            env_str(f"{_prefix}_CLIENT_ID", ""),
            env_str(f"{_prefix}_CLIENT_SECRET", ""),
            env_str(f"{_prefix}_NAME", ""),
        )
    )
if len({app["provider_id"] for app in SSO_OIDC_APPS}) != len(SSO_OIDC_APPS):
    raise ImproperlyConfigured("SSO_OIDC_PROVIDERS repeats a provider id (or SSO_OIDC_ID)")

# One SAML 2.0 identity provider (allauth's SAML provider on python3-saml), read from its
# metadata: SSO_SAML_METADATA_URL (https://, or file:/// for a downloaded file) and
# SSO_SAML_ENTITY_ID (the IdP's entity id, as in that metadata), SSO_SAML_NAME (the button's
# label), SSO_SAML_ID (the id in the portal's URLs). The portal's entity id and metadata are
# PORTAL_BASE_URL/accounts/saml/<id>/metadata/, its ACS .../acs/. Assertions must be signed by
# the metadata's certificate and answer a request the portal made (no IdP-initiated sign-in).
SSO_SAML_ID = env_str("SSO_SAML_ID", "saml").lower()
# Emails count as verified only with an `email_verified` attribute of true, unless the IdP
# asserts only addresses of its own managed directory (Okta, Entra ID, Google Workspace).
SSO_SAML_EMAIL_VERIFIED = env_bool("SSO_SAML_EMAIL_VERIFIED", False)
# A privileged person's SAML sign-in counts as MFA when the assertion's AuthnContextClassRef is
# one of these (e.g. Entra ID's http://schemas.microsoft.com/claims/multipleauthn).
SSO_SAML_MFA_AUTHN_CONTEXTS = env_list("SSO_SAML_MFA_AUTHN_CONTEXTS")
# The attribute names (first that is present wins) the portal reads from an assertion.
_SAML_ATTRIBUTES = {
    "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id"],
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "email",
        "mail",
    ],
    "email_verified": ["email_verified", "http://schemas.auth0.com/email_verified"],
    "name": [
        "urn:oid:2.16.840.1.113730.3.1.241",
        "http://schemas.microsoft.com/identity/claims/displayname",
        "displayName",
        "name",
    ],
    "first_name": [
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "firstName",
        "given_name",
    ],
    "last_name": [
        "urn:oid:2.5.4.4",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "lastName",
        "family_name",
    ],
}


def saml_app(
    provider_id: str,
    metadata_url: str,
    entity_id: str,
    name: str,
    *,
    base_url: str,
    email_verified: bool,
) -> dict:
    """allauth's settings for one SAML identity provider (the tests configure theirs so too)."""
    if not set(provider_id) <= _PROVIDER_ID_CHARS:
        raise ImproperlyConfigured(
            f"SSO_SAML_ID {provider_id!r}: use lower-case letters, digits, - and _"
        )
    if not entity_id:
        raise ImproperlyConfigured("SSO_SAML_METADATA_URL needs SSO_SAML_ENTITY_ID (the IdP's)")
    if not metadata_url.startswith(("https://", "http://", "file:///")):
        raise ImproperlyConfigured("SSO_SAML_METADATA_URL must be an https:// or file:/// URL")
    if PRODUCTION and metadata_url.startswith("http://"):
        raise ImproperlyConfigured("SSO_SAML_METADATA_URL must be https:// (or file:///)")
    return {
        "provider_id": provider_id,
        "client_id": provider_id,
        "name": name or "your identity provider",
        "settings": {
            "idp": {"metadata_url": metadata_url, "entity_id": entity_id},
            "sp": {"entity_id": f"{base_url}/accounts/saml/{provider_id}/metadata/"},
            "attribute_mapping": _SAML_ATTRIBUTES,
            "verified_email": email_verified,
            "advanced": {
                "strict": True,
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
                "reject_deprecated_algorithm": True,
            },
        },
    }


SSO_SAML_APPS: list[dict] = []
if env_str("SSO_SAML_METADATA_URL", ""):
    SSO_SAML_APPS.append(
        saml_app(
            SSO_SAML_ID,
            env_str("SSO_SAML_METADATA_URL", ""),
            env_str("SSO_SAML_ENTITY_ID", ""),
            env_str("SSO_SAML_NAME", ""),
            base_url=PORTAL_BASE_URL,
            email_verified=SSO_SAML_EMAIL_VERIFIED,
        )
    )
if {app["provider_id"] for app in SSO_SAML_APPS} & {app["provider_id"] for app in SSO_OIDC_APPS}:
    raise ImproperlyConfigured("SSO_SAML_ID must differ from every OpenID Connect provider's id")

# Password sign-in off, except for the break-glass security admins listed here (their
# password sign-ins are audited and emailed to the other security admins).
SSO_ONLY = env_bool("SSO_ONLY", False)
SSO_BREAK_GLASS_EMAILS = [email.lower() for email in env_list("SSO_BREAK_GLASS_EMAILS")]
# A new person's invitation link (to set their first password) works for this many days,
# once (accounts/invitations.py). Under SSO_ONLY the invitation has no link.
INVITATION_LINK_DAYS = env_int("INVITATION_LINK_DAYS", 7)
if not 1 <= INVITATION_LINK_DAYS <= 30:
    raise ImproperlyConfigured("INVITATION_LINK_DAYS must be between 1 and 30")
if SSO_ONLY and not (SSO_OIDC_APPS or SSO_SAML_APPS):
    raise ImproperlyConfigured(
        "SSO_ONLY=1 needs an identity provider (SSO_OIDC_ISSUER or SSO_SAML_METADATA_URL)"
    )
# A privileged person's IdP sign-in counts as MFA when the ID token's `amr` has "mfa", or its
# `acr` is one of these (e.g. Keycloak's level names); otherwise the portal's TOTP is asked.
SSO_MFA_ACR_VALUES = env_list("SSO_MFA_ACR_VALUES")

SOCIALACCOUNT_ADAPTER = "accounts.adapters.PortalSocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": SSO_OIDC_APPS},
    # allauth's SAML provider, which also keeps the assertion's AuthnContextClassRef (for MFA).
    "saml": {"provider_class": "accounts.adapters.PortalSAMLProvider", "APPS": SSO_SAML_APPS},
}
# Access and refresh tokens are never kept in the database.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_AUTO_SIGNUP = True
# The adapter links an IdP sign-in to the person with that verified email, and to no one else.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False

# SCIM 2.0 (/scim/v2/Users). A leaver (active: false, or DELETE) has their portal account
# closed at once; then `confirm` asks HR to confirm the offboarding, `offboard` starts it.
SCIM_LEAVERS = env_str("SCIM_LEAVERS", "confirm").lower()
if SCIM_LEAVERS not in {"confirm", "offboard"}:
    raise ImproperlyConfigured(f"SCIM_LEAVERS must be confirm or offboard, not {SCIM_LEAVERS!r}")
SCIM_OFFBOARDING_MODE = env_str("SCIM_OFFBOARDING_MODE", "delete").lower()
if SCIM_OFFBOARDING_MODE not in {"delete", "disable"}:
    raise ImproperlyConfigured("SCIM_OFFBOARDING_MODE must be delete or disable")

# Database sessions that know whose they are (accounts/sessions.py): a leaver's are ended by id.
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
PRIVILEGED_IDLE_MINUTES = env_int("PRIVILEGED_IDLE_MINUTES", 30)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# /healthz tells anonymous callers only healthy or not; this bearer token (or a signed-in
# security admin) also sees which part failed.
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN", "")
# /healthz answers from a snapshot refreshed this often (portal/health.py), stale after three
# intervals; AWS is asked at most once per HEALTH_AWS_SECONDS, never less than a minute.
HEALTH_REFRESH_SECONDS = env_int("HEALTH_REFRESH_SECONDS", 15)
HEALTH_AWS_SECONDS = env_int("HEALTH_AWS_SECONDS", 60)
if HEALTH_REFRESH_SECONDS < 1:
    raise ImproperlyConfigured("HEALTH_REFRESH_SECONDS must be at least 1")
if HEALTH_AWS_SECONDS < 60:
    raise ImproperlyConfigured("HEALTH_AWS_SECONDS must be at least 60 (one AWS call a minute)")

# --- Caches (allauth's rate limits live here) ----------------------------------------------

REDIS_URL = env_str("REDIS_URL", "", required_in_production=True)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
else:
    # Fail fast when the broker is down, so a request thread never hangs on enqueue; the
    # sweeper picks up whatever could not be sent.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        # An unacknowledged task (its worker died) is handed out again after this long.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # A worker reads its queues in the order CELERY_TASK_QUEUES gives, never rotated.
        "queue_order_strategy": "priority",
    }
# Cutting a leaver's access has a queue of its own. On Redis every worker reads it first
# (above), so a queued cut goes before any other work; a worker started with `-Q urgent`
# (docker-compose's `worker-urgent`) runs nothing else, so a cut never waits for a slot that
# a long teardown or a provisioning run holds.
# Each queue has an exchange and routing key of its own (Celery binds a queue declared
# without them under the default exchange and key, beside the default queue).
URGENT_QUEUE = "urgent"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in (URGENT_QUEUE, CELERY_TASK_DEFAULT_QUEUE)
)
CELERY_TASK_ROUTES = {"provisioning.tasks.cut_offboarding_access": {"queue": URGENT_QUEUE}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes a worker's database connection after every task unless this is set; the
# worker then reconnects for each task. portal/celery.py closes only broken or old ones.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
CELERY_BEAT_SCHEDULE["refresh-health"] = {
    "task": "portal.tasks.refresh_health",
    "schedule": float(HEALTH_REFRESH_SECONDS),
}
CELERY_BEAT_SCHEDULE["clear-expired-sessions"] = {
    "task": "portal.tasks.clear_expired_sessions",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["send-approval-reminders"] = {
    "task": "provisioning.tasks.send_approval_reminders",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["send-approval-digests"] = {
    "task": "provisioning.tasks.send_approval_digests",
    "schedule": 3600.0,
}

# Provisioning (provisioning/onboarding). A run's claim on a request lapses this long
# after its last recorded step. It must outlast the task's hard time limit, so that a lapsed
# claim always means the run that held it is gone.
PROVISIONING_LEASE_SECONDS = env_int("PROVISIONING_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 30)
if PROVISIONING_LEASE_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "PROVISIONING_LEASE_SECONDS must be longer than CELERY_TASK_TIME_LIMIT"
    )
# Transient AWS errors retry after base * 2**n seconds (with jitter), at most this many times.
PROVISIONING_RETRY_BASE_SECONDS = env_int("PROVISIONING_RETRY_BASE_SECONDS", 10)
PROVISIONING_RETRY_MAX_SECONDS = env_int("PROVISIONING_RETRY_MAX_SECONDS", 120)
PROVISIONING_MAX_RETRIES = env_int("PROVISIONING_MAX_RETRIES", 5)
# The sweeper re-enqueues an approved request left untouched this long (its task was lost:
# the broker was down at approval, say). Longer than the longest retry wait, so it does not
# race a retry that is merely waiting its turn.
PROVISIONING_STALE_SECONDS = env_int("PROVISIONING_STALE_SECONDS", 300)
if PROVISIONING_STALE_SECONDS <= PROVISIONING_RETRY_MAX_SECONDS:
    raise ImproperlyConfigured(
        "PROVISIONING_STALE_SECONDS must be longer than PROVISIONING_RETRY_MAX_SECONDS"
    )
# Offboarding (provisioning/offboarding): transient AWS errors retry after base * 2**n seconds
# (with jitter, capped), at most this many times; a teardown another worker holds is looked
# at again after OFFBOARDING_BUSY_RETRY_SECONDS.
OFFBOARDING_MAX_RETRIES = env_int("OFFBOARDING_MAX_RETRIES", 8)
OFFBOARDING_RETRY_BASE_SECONDS = env_int("OFFBOARDING_RETRY_BASE_SECONDS", 3)
OFFBOARDING_RETRY_MAX_SECONDS = env_int("OFFBOARDING_RETRY_MAX_SECONDS", 60)
OFFBOARDING_BUSY_RETRY_SECONDS = env_int("OFFBOARDING_BUSY_RETRY_SECONDS", 10)
OFFBOARDING_SOFT_TIME_LIMIT = env_int("OFFBOARDING_SOFT_TIME_LIMIT", 240)
OFFBOARDING_TIME_LIMIT = env_int("OFFBOARDING_TIME_LIMIT", 300)
if OFFBOARDING_SOFT_TIME_LIMIT >= OFFBOARDING_TIME_LIMIT:
    raise ImproperlyConfigured("OFFBOARDING_SOFT_TIME_LIMIT must be below OFFBOARDING_TIME_LIMIT")
CELERY_BEAT_SCHEDULE["sweep-stuck-requests"] = {
    "task": "provisioning.tasks.sweep_stuck_requests",
    "schedule": float(env_int("PROVISIONING_SWEEP_SECONDS", 60)),
}
# Approved this long ago and not provisioned: "taking longer than usual" on the requester's
# page and on the operations page, and the security admins are told (checked this often).
PROVISIONING_SLOW_SECONDS = env_int("PROVISIONING_SLOW_SECONDS", 60)
CELERY_BEAT_SCHEDULE["notify-slow-provisioning"] = {
    "task": "provisioning.tasks.notify_slow_provisioning",
    "schedule": float(env_int("PROVISIONING_SLOW_CHECK_SECONDS", 20)),
}
CELERY_BEAT_SCHEDULE["sweep-stuck-offboardings"] = {
    "task": "provisioning.tasks.sweep_stuck_offboardings",
    "schedule": float(env_int("PROVISIONING_SWEEP_SECONDS", 60)),
}
# Scheduled offboardings (provisioning/offboarding/schedule.py): HR's reminder the day before
# the last working day, and the start at the end of it (midnight in TIME_ZONE).
CELERY_BEAT_SCHEDULE["run-scheduled-offboardings"] = {
    "task": "provisioning.tasks.run_scheduled_offboardings",
    "schedule": float(env_int("OFFBOARDING_SCHEDULE_CHECK_SECONDS", 300)),
}

# --- Guardrails (provisioning/guardrails) ---------------------------------------------------
# Access keys: the maximum age, the reminders before it, the overlap a rotated key keeps the old
# one for, and a security admin's one extension. Credentials unused this many days are
# disabled, after a warning this many days before.
KEY_MAX_AGE_DAYS = env_int("KEY_MAX_AGE_DAYS", 90)
try:
    KEY_AGE_REMINDER_DAYS = sorted(int(day) for day in env_list("KEY_AGE_REMINDER_DAYS", "75,85"))
except ValueError:
    raise ImproperlyConfigured("KEY_AGE_REMINDER_DAYS must be comma-separated days") from None
if any(not 0 < day < KEY_MAX_AGE_DAYS for day in KEY_AGE_REMINDER_DAYS):
    raise ImproperlyConfigured("KEY_AGE_REMINDER_DAYS must each be between 0 and KEY_MAX_AGE_DAYS")
KEY_AGE_EXTENSION_DAYS = env_int("KEY_AGE_EXTENSION_DAYS", 30)
KEY_ROTATION_OVERLAP_DAYS = env_int("KEY_ROTATION_OVERLAP_DAYS", 7)
UNUSED_CREDENTIAL_DAYS = env_int("UNUSED_CREDENTIAL_DAYS", 45)
UNUSED_WARNING_DAYS = env_int("UNUSED_WARNING_DAYS", 7)
if not 0 < UNUSED_WARNING_DAYS < UNUSED_CREDENTIAL_DAYS:
    raise ImproperlyConfigured("UNUSED_WARNING_DAYS must be between 0 and UNUSED_CREDENTIAL_DAYS")
# A drift finding accepted by a security admin comes back after at most this many days.
DRIFT_ACCEPT_MAX_DAYS = env_int("DRIFT_ACCEPT_MAX_DAYS", 365)
# The daily jobs (key age, unused credentials, drift, compliance) run once a day; beat looks
# this often whether today's have run. Rotations waiting out their overlap are looked at
# every GUARDRAILS_ROTATION_SWEEP_SECONDS.
GUARDRAILS_CHECK_SECONDS = env_int("GUARDRAILS_CHECK_SECONDS", 3600)
GUARDRAILS_ROTATION_SWEEP_SECONDS = env_int("GUARDRAILS_ROTATION_SWEEP_SECONDS", 900)
GUARDRAILS_MAX_RETRIES = env_int("GUARDRAILS_MAX_RETRIES", 5)
GUARDRAILS_RETRY_BASE_SECONDS = env_int("GUARDRAILS_RETRY_BASE_SECONDS", 10)
GUARDRAILS_RETRY_MAX_SECONDS = env_int("GUARDRAILS_RETRY_MAX_SECONDS", 300)
CELERY_BEAT_SCHEDULE["guardrails-daily"] = {
    "task": "provisioning.tasks.run_daily_guardrails",
    "schedule": float(GUARDRAILS_CHECK_SECONDS),
}
CELERY_BEAT_SCHEDULE["guardrails-key-rotations"] = {
    "task": "provisioning.tasks.sweep_key_rotations",
    "schedule": float(GUARDRAILS_ROTATION_SWEEP_SECONDS),
}
# --- Access over time (provisioning/lifecycle) ----------------------------------------------
# Grants end at their end date (expiry), when revoked or given up, and temporary access after
# its hours. The beat job ends what is due, warns 7 days and 1 day before, and re-enqueues
# removals whose task was lost, every LIFECYCLE_SWEEP_SECONDS (temporary access ends within
# that long of its exact end).
LIFECYCLE_SWEEP_SECONDS = env_int("LIFECYCLE_SWEEP_SECONDS", 60)
# A grant's removal from IAM: transient AWS errors retry after base * 2**n seconds (with
# jitter, capped), at most this many times; then the sweep tries again after
# LIFECYCLE_STALE_SECONDS, as it does for a removal whose task was lost.
LIFECYCLE_MAX_RETRIES = env_int("LIFECYCLE_MAX_RETRIES", 8)
LIFECYCLE_RETRY_BASE_SECONDS = env_int("LIFECYCLE_RETRY_BASE_SECONDS", 3)
LIFECYCLE_RETRY_MAX_SECONDS = env_int("LIFECYCLE_RETRY_MAX_SECONDS", 60)
LIFECYCLE_STALE_SECONDS = env_int("LIFECYCLE_STALE_SECONDS", 300)
if LIFECYCLE_STALE_SECONDS <= LIFECYCLE_RETRY_MAX_SECONDS:
    raise ImproperlyConfigured(
        "LIFECYCLE_STALE_SECONDS must be longer than LIFECYCLE_RETRY_MAX_SECONDS"
    )
# Access reviews: reviewers are reminded of what waits for them this often; deadlines and
# reminders are looked at every REVIEW_SWEEP_SECONDS.
REVIEW_REMINDER_HOURS = env_int("REVIEW_REMINDER_HOURS", 48)
CELERY_BEAT_SCHEDULE["end-grants"] = {
    "task": "provisioning.tasks.end_due_grants",
    "schedule": float(LIFECYCLE_SWEEP_SECONDS),
}
CELERY_BEAT_SCHEDULE["access-review-deadlines"] = {
    "task": "provisioning.tasks.apply_access_review_deadlines",
    "schedule": float(env_int("REVIEW_SWEEP_SECONDS", 3600)),
}

# --- AWS ------------------------------------------------------------------------------------

AWS_REGION = env_str("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL", "")
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 5)
AWS_CONNECT_TIMEOUT = env_int("AWS_CONNECT_TIMEOUT", 5)
AWS_READ_TIMEOUT = env_int("AWS_READ_TIMEOUT", 20)
AWS_RETRY_MODE = env_str("AWS_RETRY_MODE", "adaptive")
if AWS_RETRY_MODE not in {"standard", "adaptive"}:
    raise ImproperlyConfigured("AWS_RETRY_MODE must be standard or adaptive")
# One pace for every worker's mutating IAM calls (provisioning/aws/pacer.py), through Redis.
# 0 paces nothing (development); production sets what the account sustains.
AWS_IAM_MUTATING_RATE = env_int("AWS_IAM_MUTATING_RATE", 0)
AWS_IAM_MUTATING_BURST = env_int("AWS_IAM_MUTATING_BURST", 1)
AWS_PACER_MAX_WAIT_SECONDS = env_int("AWS_PACER_MAX_WAIT_SECONDS", 30)
# The demo banner shows while the portal talks to a fake AWS on this machine.
# docker-compose's demo AWS is a moto container, not on this host: it says so with AWS_IS_FAKE.
AWS_IS_LOCAL_FAKE = env_bool(
    "AWS_IS_FAKE", urlparse(AWS_ENDPOINT_URL).hostname in {"127.0.0.1", "localhost", "::1"}
)
# One short attempt for what a person or a probe waits on (health, checks, the offboarding
# preview); the work itself uses the limits above.
AWS_QUICK_CONNECT_TIMEOUT = env_int("AWS_QUICK_CONNECT_TIMEOUT", 2)
AWS_QUICK_READ_TIMEOUT = env_int("AWS_QUICK_READ_TIMEOUT", 3)
# Test seams (provisioning/aws/seams.py): only portal/test_settings.py switches them on.
AWS_TEST_SEAMS = False
AWS_FAULT_INJECTION = ""
AWS_CLIENT_HOOK = ""

CREDENTIAL_ENCRYPTION_KEYS = env_list(
    "CREDENTIAL_ENCRYPTION_KEYS",
    # Development-only key: "demo" version, 32 bytes, urlsafe base64. Production must set its own.
    "demo:ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE=",
    required_in_production=True,
)


def _check_encryption_keys(keys: list[str], name: str = "CREDENTIAL_ENCRYPTION_KEYS") -> None:
    """Each key is `version:base64-of-32-bytes` (AES-256), versions unique, newest first."""
    seen: set[str] = set()
    for position, key in enumerate(keys, start=1):
        version, _, encoded = key.partition(":")
        problem = ""
        if not version or not encoded:
            problem = "is not in the form version:base64-key"
        elif version in seen:
            problem = f"repeats the version {version!r}"
        else:
            try:
                raw = base64.b64decode(encoded, altchars=b"-_", validate=True)
            except binascii.Error:
                problem = "is not valid base64"
            else:
                if len(raw) != 32:
                    problem = f"decodes to {len(raw)} bytes, not 32"
        if problem:
            # Never echo the key itself: it is a secret.
            raise ImproperlyConfigured(
                f"{name}: key {position} {problem} (expected "
                "version:base64-of-32-random-bytes, comma-separated, newest first)"
            )
        seen.add(version)


_check_encryption_keys(CREDENTIAL_ENCRYPTION_KEYS)

# --- Audit trail (audit/chain.py, audit/anchors.py) ------------------------------------------

# The chain's HMAC keys: kept outside the database, so its owner cannot recompute the chain.
AUDIT_CHAIN_KEYS = env_list(
    "AUDIT_CHAIN_KEYS",
    # Development-only key, public on purpose. Production must set its own.
    "demo:ZGV2ZWxvcG1lbnQtb25seS1hdWRpdC1rZXktMzJieXQ=",
    required_in_production=True,
)
_check_encryption_keys(AUDIT_CHAIN_KEYS, name="AUDIT_CHAIN_KEYS")
# The head is published this often (a log line, and AUDIT_ANCHOR_FILE when set).
AUDIT_ANCHOR_SECONDS = env_int("AUDIT_ANCHOR_SECONDS", 300)
AUDIT_ANCHOR_FILE = env_str(
    "AUDIT_ANCHOR_FILE", "" if PRODUCTION else str(VAR_DIR / "audit-anchors.log")
)
CELERY_BEAT_SCHEDULE["publish-audit-anchor"] = {
    "task": "audit.tasks.publish_audit_anchor",
    "schedule": float(AUDIT_ANCHOR_SECONDS),
}
CELERY_BEAT_SCHEDULE["email-audit-anchor"] = {
    "task": "audit.tasks.email_audit_anchor",
    "schedule": 24 * 3600.0,
}
CREDENTIAL_LINK_TTL_HOURS = env_int("CREDENTIAL_LINK_TTL_HOURS", 24)
# Expired, uncollected links: wiped and their access keys switched off this often.
CELERY_BEAT_SCHEDULE["sweep-uncollected-links"] = {
    "task": "provisioning.tasks.sweep_uncollected_links",
    "schedule": float(env_int("CREDENTIAL_SWEEP_SECONDS", 3600)),
}
APPROVAL_REMINDER_HOURS = env_int("APPROVAL_REMINDER_HOURS", 24)
# Approvers who chose one daily digest get it at this hour (TIME_ZONE) or the first run after.
APPROVAL_DIGEST_HOUR = env_int("APPROVAL_DIGEST_HOUR", 8)
# Provisioning checks a role-group's IAM group holds its catalogue policies at most this often.
CATALOGUE_VERIFY_SECONDS = env_int("CATALOGUE_VERIFY_SECONDS", 600)

# --- Email ----------------------------------------------------------------------------------

EMAIL_URL = env_str("EMAIL_URL", f"outbox://{VAR_DIR / 'outbox'}", required_in_production=True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "IAM Access Portal <access-portal@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_OUTBOX_DIR: Path | None = None
_email = urlparse(EMAIL_URL)
if _email.scheme == "outbox":
    if PRODUCTION:
        raise ImproperlyConfigured("EMAIL_URL=outbox:// is for the demo only; use smtp://")
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_OUTBOX_DIR = Path(_email.netloc + _email.path)
    EMAIL_FILE_PATH = str(EMAIL_OUTBOX_DIR)
elif _email.scheme in {"smtp", "smtps", "smtp+tls"}:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = _email.username or ""
    EMAIL_HOST_PASSWORD = _email.password or ""
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp+tls" or "tls" in parse_qs(_email.query)
elif _email.scheme == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif _email.scheme == "locmem":
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
else:
    raise ImproperlyConfigured(
        f"EMAIL_URL must be smtp://, smtps://, smtp+tls://, console:// or outbox://, "
        f"not {_email.scheme!r}"
    )

# --- Static, i18n ---------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security headers -----------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
