"""Key rotation of stored connector secrets: every source's token re-encrypted with the first
key, a source at a time, each under a row lock so a concurrent edit is not lost."""

from django.db import transaction

from .models import Source
from .secrets import secrets_rotate


def secrets_reencrypt_all() -> int:
    """Re-encrypt every source's secrets with the first configured key; the number of sources."""
    count = 0
    ids = Source.objects.exclude(secrets_encrypted="").values_list("pk", flat=True)
    for source_id in list(ids):
        with transaction.atomic():
            source = Source.objects.select_for_update().filter(pk=source_id).first()
            if source is None or not source.secrets_encrypted:
                continue
            source.secrets_encrypted = secrets_rotate(source.secrets_encrypted)
            source.save(update_fields=["secrets_encrypted"])
            count += 1
    return count
