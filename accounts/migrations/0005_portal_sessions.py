"""Sessions that know whose they are (accounts/sessions.py). The live sessions of Django's own
table move across, each with its person's id, so nobody is signed out by the upgrade."""

from typing import Any

from django.db import migrations, models
from django.utils import timezone


def _move_live_sessions(apps: Any, schema_editor: Any) -> None:
    # Session data is signed with a salt naming the store class ("SessionStore"): Django's
    # and the portal's share it, so the data moves across as it is.
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.sessions import signed_in_user_id

    Session = apps.get_model("sessions", "Session")
    PortalSession = apps.get_model("accounts", "PortalSession")
    decoder = SessionStore()
    batch = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        batch.append(
            PortalSession(
                session_key=session.session_key,
                session_data=session.session_data,
                expire_date=session.expire_date,
                user_id=signed_in_user_id(decoder.decode(session.session_data)),
            )
        )
        if len(batch) >= 1000:
            PortalSession.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PortalSession.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_approval_emails_preference"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="PortalSession",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="session key"
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                ("user_id", models.IntegerField(db_index=True, null=True)),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "abstract": False,
            },
        ),
        migrations.RunPython(_move_live_sessions, migrations.RunPython.noop),
    ]
