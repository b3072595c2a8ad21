"""Destination connectors in the registry: looked up by kind, each with a complete setup form."""

import pytest

from cdp_site.errors import InvalidInputError
from integrations.connectors.base import FIELD_KINDS, DestinationConnector
from integrations.connectors.registry import connector_class, connector_classes

DESTINATIONS = {"webhook", "mailchimp_list", "meta_audience", "file_export", "segment_forward"}


def test_every_destination_is_registered_once():
    classes = connector_classes("destination")
    assert {cls.key for cls in classes} == DESTINATIONS
    assert all(issubclass(cls, DestinationConnector) for cls in classes)
    assert not {cls.key for cls in connector_classes("source")} & (DESTINATIONS - {"webhook"})


@pytest.mark.parametrize("key", sorted(DESTINATIONS))
def test_each_destination_declares_its_form(key):
    cls = connector_class(key, kind="destination")
    assert cls.kind == "destination"
    assert not cls.pulls
    assert cls.label
    assert cls.description
    assert cls.max_batch > 0
    names = [f.name for f in cls.fields]
    assert len(names) == len(set(names))
    for spec in cls.fields:
        assert spec.kind in FIELD_KINDS
        if spec.kind == "choice":
            assert spec.default in dict(spec.choices)


def test_a_destination_key_is_found_without_a_kind_when_no_source_has_it():
    assert connector_class("mailchimp_list").key == "mailchimp_list"


def test_a_source_key_is_not_a_destination():
    with pytest.raises(InvalidInputError):
        connector_class("postgres_table", kind="destination")
