"""Each consent purpose states its lawful basis; the purposes seeded before it rest on consent."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("compliance", "0008_retention")]

    operations = [
        migrations.AddField(
            model_name="consentpurpose",
            name="legal_basis",
            field=models.CharField(
                choices=[
                    ("consent", "Consent (Art. 6(1)(a))"),
                    ("contract", "Contract (Art. 6(1)(b))"),
                    ("legal_obligation", "Legal obligation (Art. 6(1)(c))"),
                    ("vital_interests", "Vital interests (Art. 6(1)(d))"),
                    ("public_task", "Public task (Art. 6(1)(e))"),
                    ("legitimate_interests", "Legitimate interests (Art. 6(1)(f))"),
                ],
                default="consent",
                max_length=32,
            ),
        ),
    ]
