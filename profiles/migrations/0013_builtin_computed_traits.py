"""The built-in computed traits: orders, lifetime value, average order value, first and last
order, last seen and days since. Written out here (not imported) so the migration keeps
meaning what it meant when it was written."""

from django.db import migrations

BUILTINS = (
    ("order_count", "Orders", "event_count", "Order Completed", ""),
    ("lifetime_value", "Lifetime value", "sum", "Order Completed", "revenue"),
    ("average_order_value", "Average order value", "average", "Order Completed", "revenue"),
    ("first_order_at", "First order", "first_time", "Order Completed", ""),
    ("last_order_at", "Last order", "last_time", "Order Completed", ""),
    ("last_seen_at", "Last seen", "last_time", "", ""),
    ("days_since_last_seen", "Days since last seen", "days_since_last", "", ""),
)


def create_builtins(apps, schema_editor):
    ComputedTrait = apps.get_model("profiles", "ComputedTrait")
    for key, name, kind, event, prop in BUILTINS:
        ComputedTrait.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "kind": kind,
                "event": event,
                "property": prop,
                "builtin": True,
            },
        )


def remove_builtins(apps, schema_editor):
    ComputedTrait = apps.get_model("profiles", "ComputedTrait")
    ComputedTrait.objects.filter(builtin=True, key__in=[b[0] for b in BUILTINS]).delete()


class Migration(migrations.Migration):
    dependencies = [("profiles", "0012_computed_traits_and_event_aggregates")]

    operations = [migrations.RunPython(create_builtins, remove_builtins)]
