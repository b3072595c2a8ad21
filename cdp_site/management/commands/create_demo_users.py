"""Create one demo user per role, plus a superuser, and print their credentials."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from cdp_site.roles import Role

DEMO_USERS = (
    ("marketer", Role.MARKETER),
    ("support", Role.SUPPORT_AGENT),
    ("integrations", Role.INTEGRATION_ADMIN),
    ("compliance", Role.COMPLIANCE_OFFICER),
    ("admin", None),
)


class Command(BaseCommand):
    help = "Create demo users (one per role and a superuser) for a local demo."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default="cdp-demo-password",
            help="Password for every demo user (default: %(default)s).",
        )

    @transaction.atomic
    def handle(self, *args, password: str, **options):
        user_model = get_user_model()
        rows = []
        for username, role in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.invalid"}
            )
            user.set_password(password)
            user.is_superuser = user.is_staff = role is None
            user.save()
            if role is not None:
                user.groups.set([Group.objects.get(name=role.value)])
            rows.append((username, role.label if role else "Superuser (all roles)"))
        self.stdout.write(f"Demo users (password for all: {password}):")
        for username, label in rows:
            self.stdout.write(f"  {username:<14} {label}")
