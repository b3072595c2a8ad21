"""Serializer building blocks shared by the apps' APIs: text fields that take only text."""

from django.db import models
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """Text that must be sent as text: DRF's CharField turns a number into its digits, which
    accepts what the schema (`type: string`) says is invalid."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text fields take only text (see `StrictCharField`)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }
