"""The portal's roles as Django groups with their permissions."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Employees": [],
    "HR": [
        (
            "accounts",
            "user",
            "manage_people",
            "Can view and edit the people directory and import people",
        ),
        ("accounts", "user", "offboard_people", "Can offboard a leaver"),
    ],
    "Security admins": [
        ("provisioning", "rolegroup", "manage_catalogue", "Can edit the role-group catalogue"),
        (
            "provisioning",
            "rolegroup",
            "operate_provisioning",
            "Can see and retry failed provisioning and re-issue links",
        ),
        ("audit", "auditevent", "view_audit", "Can view and export the audit trail"),
    ],
    "Auditors": [
        ("audit", "auditevent", "view_audit", "Can view and export the audit trail"),
    ],
}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, model, codename, name in permissions:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("provisioning", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
