"""Create the four role groups with the model permissions that exist at this point."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_role_groups(apps, schema_editor):
    from cdp_site.roles import role_permissions_sync

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    role_permissions_sync(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def delete_role_groups(apps, schema_editor):
    from cdp_site.roles import ALL_ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=[r.value for r in ALL_ROLES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, delete_role_groups)]
