"""The "credential email may not have arrived" note becomes a field instead of a sentence
stored in failure_reason."""

from django.db import migrations, models

# The sentence the portal used to store in failure_reason for this state.
OLD_SENTENCE = (
    "Access is active, but the worker stopped while sending the credential email, so it may "
    "not have arrived. If the person has no link, re-issue their credentials."
)


def forward(apps, schema_editor):
    AccessRequest = apps.get_model("provisioning", "AccessRequest")
    AccessRequest.objects.filter(failure_reason=OLD_SENTENCE).update(
        credential_email_unconfirmed=True, failure_reason=""
    )


def backward(apps, schema_editor):
    AccessRequest = apps.get_model("provisioning", "AccessRequest")
    AccessRequest.objects.filter(credential_email_unconfirmed=True).update(
        failure_reason=OLD_SENTENCE
    )


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0002_seed_catalogue")]

    operations = [
        migrations.AddField(
            model_name="accessrequest",
            name="credential_email_unconfirmed",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(forward, backward),
    ]
