"""The starting catalogue: least privilege by default, administrators marked sensitive."""

from django.db import migrations

CATALOGUE = [
    {
        "name": "Developers",
        "description": "Build and run workloads: full access to EC2 and S3.",
        "iam_group_name": "portal-developers",
        "managed_policy_arns": [
            "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        ],
        "sensitive": False,
    },
    {
        "name": "Analysts",
        "description": "Look, don't touch: read-only access to every service.",
        "iam_group_name": "portal-analysts",
        "managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "sensitive": False,
    },
    {
        "name": "Administrators",
        "description": "Full access to the account. Needs a second approval by a security admin.",
        "iam_group_name": "portal-administrators",
        "managed_policy_arns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        "sensitive": True,
        "max_duration_days": 90,
    },
]


def seed(apps, schema_editor):
    RoleGroup = apps.get_model("provisioning", "RoleGroup")
    for entry in CATALOGUE:
        RoleGroup.objects.get_or_create(name=entry["name"], defaults=entry)


def unseed(apps, schema_editor):
    apps.get_model("provisioning", "RoleGroup").objects.filter(
        name__in=[entry["name"] for entry in CATALOGUE]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
