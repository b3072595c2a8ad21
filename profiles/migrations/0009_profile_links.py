"""Profile links: a merge no longer moves events, it links the merged-away profile to the live one.

Existing merged-away profiles get their link here, to the end of their chain of `merged_into`;
their events were moved by the merges of the time, so nothing else changes.
"""

import django.db.models.deletion
from django.db import migrations, models


def links_create(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    ProfileLink = apps.get_model("profiles", "ProfileLink")
    parent = dict(
        Profile.objects.filter(merged_into__isnull=False)
        .values_list("pk", "merged_into_id")
        .order_by()
    )
    links = []
    for pk in parent:
        end, seen = parent[pk], {pk}
        while end in parent and end not in seen:
            seen.add(end)
            end = parent[end]
        links.append(ProfileLink(profile_id=pk, live_id=end))
    ProfileLink.objects.bulk_create(links, batch_size=5000)


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
        migrations.RunPython(links_create, migrations.RunPython.noop),
    ]
