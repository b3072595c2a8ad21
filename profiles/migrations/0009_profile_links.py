"""Profile links: a merge of a long history links the merged-away profile to the live one.

No rows to add: the merges made so far moved every event to its live profile.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0008_source_id_without_foreign_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProfileLink",
            fields=[
                (
                    "profile",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="link",
                        serialize=False,
                        to="profiles.profile",
                    ),
                ),
                (
                    "live",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="profiles.profile",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="event",
            name="profile_link",
            field=models.ForeignObject(
                from_fields=["profile"],
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="profiles.profilelink",
                to_fields=["profile"],
            ),
        ),
        migrations.AddIndex(
            model_name="profilelink",
            index=models.Index(fields=["live", "profile"], name="profile_link_live"),
        ),
    ]
