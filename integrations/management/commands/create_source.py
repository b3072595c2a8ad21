"""`manage.py create_source --name NAME`: a tracking API source for scripts and deployments."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.forms import SourceForm
from integrations.services import source_create


class Command(BaseCommand):
    help = "Create a tracking API source and print its write key (the last line of the output)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Name of the source.")
        parser.add_argument("--created-by", help="User name of the owner (optional).")

    def handle(self, *args, name, created_by=None, **options):
        form = SourceForm({"name": name})
        if not form.is_valid():
            raise CommandError("; ".join(form.errors["name"]))
        owner = None
        if created_by:
            owner = get_user_model().objects.filter(username=created_by).first()
            if owner is None:
                raise CommandError(f"No user named {created_by!r}.")
        source = source_create(name=form.cleaned_data["name"], created_by=owner)
        self.stdout.write(f"Created source {source.name!r} (id {source.pk}). Write key:")
        self.stdout.write(source.write_key)
