"""Re-encrypt every stored connector secret with the first key of CDP_SECRET_KEYS.

Run after putting a new key first; once it has run, the old keys can be dropped.
"""

from django.core.management.base import BaseCommand

from integrations.secrets_rotation import secrets_reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every stored connector secret with the first key of CDP_SECRET_KEYS."

    def handle(self, *args, **options):
        count = secrets_reencrypt_all()
        self.stdout.write(f"Re-encrypted the secrets of {count} sources with the first key.")
