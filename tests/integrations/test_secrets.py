"""Secrets at rest: MultiFernet from settings, rotation to the first key by the command."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from cdp_site.errors import InvalidInputError
from integrations.models import Source
from integrations.secrets import secrets_decrypt, secrets_encrypt
from integrations.sources import source_connector_create

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_secrets_round_trip_and_are_not_plain_text(settings):
    settings.CDP_SECRET_KEYS = [OLD_KEY]
    token = secrets_encrypt({"password": "hunter2-marker"})
    assert "hunter2-marker" not in token
    assert secrets_decrypt(token) == {"password": "hunter2-marker"}


def test_without_keys_a_key_derived_from_secret_key_is_used(settings):
    settings.CDP_SECRET_KEYS = []
    token = secrets_encrypt({"token": "abc"})
    assert secrets_decrypt(token) == {"token": "abc"}
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(InvalidInputError) as caught:
        secrets_decrypt(token)
    assert caught.value.code == "secrets_unreadable"


def test_a_token_of_an_old_key_still_reads_after_a_new_key_is_put_first(settings):
    settings.CDP_SECRET_KEYS = [OLD_KEY]
    token = secrets_encrypt({"password": "p"})
    settings.CDP_SECRET_KEYS = [NEW_KEY, OLD_KEY]
    assert secrets_decrypt(token) == {"password": "p"}


@pytest.mark.django_db
def test_secrets_reencrypt_rotates_every_source_to_the_first_key(settings, capsys):
    settings.CDP_SECRET_KEYS = [OLD_KEY]
    values = {
        "host": "db.example.com",
        "database": "shop",
        "user": "reader",
        "password": "s3cret-marker",
        "table": "customers",
    }
    source = source_connector_create(name="Shop DB", kind="postgres_table", values=values)
    Source.objects.create(name="Web", write_key="wk-1")  # a tracking source has no secrets
    settings.CDP_SECRET_KEYS = [NEW_KEY, OLD_KEY]
    call_command("secrets_reencrypt")
    assert "Re-encrypted the secrets of 1 sources" in capsys.readouterr().out
    settings.CDP_SECRET_KEYS = [NEW_KEY]  # the old key dropped: everything still reads
    source.refresh_from_db()
    assert secrets_decrypt(source.secrets_encrypted)["password"] == "s3cret-marker"
    assert source.config == {
        "host": "db.example.com",
        "port": 5432,
        "database": "shop",
        "user": "reader",
        "table": "customers",
        "updated_at_column": "updated_at",
        "primary_key_column": "id",
        "message_type": "identify",
        "batch_size": 5000,
    }
