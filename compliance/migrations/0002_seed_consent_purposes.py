"""Seed the consent purposes every installation starts with."""

from django.db import migrations

PURPOSES = [
    ("email_marketing", "E-mail marketing", "Marketing messages sent by e-mail."),
    ("sms_marketing", "SMS marketing", "Marketing messages sent by text message."),
    ("advertising", "Advertising", "Audiences shared with advertising platforms."),
    ("analytics", "Analytics", "Measuring how the product and the website are used."),
]


def seed(apps, schema_editor):
    ConsentPurpose = apps.get_model("compliance", "ConsentPurpose")
    for key, name, description in PURPOSES:
        ConsentPurpose.objects.get_or_create(key=key, defaults={"name": name, "description": description})


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
