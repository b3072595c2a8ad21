"""The detectors of personal data in values, and the classification of fields from keys and
values: pure functions, each with the cases that must and must not match."""

import datetime as dt

import pytest

from profiles.catalogue import detectors
from profiles.catalogue.classify import (
    NOT_PERSONAL,
    PERSONAL,
    SENSITIVE,
    UNKNOWN,
    FieldSample,
    classify_field,
    classify_key,
    stricter,
)

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("jane.doe@example.com", ["jane.doe@example.com"]),
        ("Contact: x@example.com", ["x@example.com"]),
        ("https://shop.example/signup?email=jane%40example.com&plan=pro", ["jane%40example.com"]),
        ("no address here @ all", []),
        ("pro", []),
    ],
)
def test_emails_are_found_anywhere_in_text(text, found):
    assert detectors.find_emails(text) == found


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("card 5555-5555-5555-4444 on file", True),
        ("4111111111111112", False),  # fails the Luhn check
        ("0000000000000000", False),  # one digit repeated
        ("123456", False),
    ],
)
def test_card_numbers_by_the_luhn_check(text, card):
    assert detectors.has_card(text) is card


def test_luhn_check():
    assert detectors.luhn_valid("79927398713")
    assert not detectors.luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("DE89370400440532013000", ["DE89370400440532013000"]),
        ("IBAN: DE89 3704 0044 0532 0130 00.", ["DE89 3704 0044 0532 0130 00"]),
        ("pay to GB82WEST12345698765432 now", ["GB82WEST12345698765432"]),
        ("DE89370400440532013001", []),  # wrong checksum
        ("DE12", []),
    ],
)
def test_ibans_by_their_checksum(text, found):
    assert detectors.find_ibans(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("078-05-1120", True),
        ("SSN 078-05-1120 on file", True),
        ("AB 12 34 56 C", True),
        ("000-12-3456", False),  # no social security number starts 000
        ("2024-01-01", False),
        ("12-345", False),
    ],
)
def test_national_ids_by_their_shape(text, found):
    assert detectors.has_national_id(text) is found


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+49 151 1234 5678", True),
        ("+4915112345678", True),
        ("call 030 1234567", True),
        ("(555) 123-4567", True),
        ("2024-01-01", False),
        ("078-05-1120", False),
        ("12.5", False),
        ("1234567", False),  # a bare number: an order number as likely as a phone
        ("ord-2-12345678", False),  # part of an order number
        ("4111111111111111", False),
    ],
)
def test_phone_numbers(text, phone):
    assert detectors.has_phone(text) is phone


@pytest.mark.parametrize(
    ("value", "pair"),
    [
        ("52.5200, 13.4050", True),
        ([52.52, 13.405], True),
        ([1, 2], False),  # whole numbers: a pair of counts, not a place
        ("100.5, 13.4", False),  # no latitude beyond 90
        ("pro", False),
    ],
)
def test_coordinate_pairs(value, pair):
    assert detectors.is_coordinate_pair(value) is pair


def test_single_coordinates():
    assert detectors.is_coordinate(52.52)
    assert detectors.is_coordinate("-122.4194", longitude=True)
    assert not detectors.is_coordinate(-122.4194)  # beyond a latitude
    assert not detectors.is_coordinate(True)
    assert not detectors.is_coordinate(3)


@pytest.mark.parametrize(
    ("text", "birth"),
    [
        ("1984-02-29", True),
        ("29.02.1984", True),
        ("02/03/1990", True),
        ("2024-02-01", False),  # too recent for a customer's birthday
        ("1850-01-01", False),
        ("1984-02-30", False),  # no such day
        ("2024-01-01T10:00:00Z", False),  # a moment, not a day
    ],
)
def test_dates_of_birth(text, birth):
    assert detectors.is_birth_date(text, today=TODAY) is birth


def test_free_text_and_names():
    assert detectors.is_free_text("I love long walks on the beach with my dog")
    assert detectors.is_free_text("x" * 40)
    assert not detectors.is_free_text("Germany")
    assert detectors.is_person_name("Jane Doe")
    assert detectors.is_person_name("Anne-Marie van Dijk")
    assert not detectors.is_person_name("pro")
    assert not detectors.is_person_name("running shoes")


def test_scrub_masks_personal_data_inside_shown_text_and_keeps_the_rest():
    assert (
        detectors.scrub("https://shop.example/signup?email=jane%40example.com&plan=pro")
        == "https://shop.example/signup?email=j***@example.com&plan=pro"
    )
    assert detectors.scrub("Contact: x@example.com") == "Contact: x***@example.com"
    assert detectors.scrub("card 4111111111111111") == "card " + "*" * 16
    assert detectors.scrub("ssn 078-05-1120") == "ssn " + "*" * 11
    assert detectors.scrub("/products/shoes?size=42") == "/products/shoes?size=42"


@pytest.mark.parametrize(
    ("path", "klass"),
    [
        ("surname", PERSONAL),
        ("given_name", PERSONAL),
        ("family_name", PERSONAL),
        ("fname", PERSONAL),
        ("lname", PERSONAL),
        ("dob", PERSONAL),
        ("tel", PERSONAL),
        ("cell", PERSONAL),
        ("contact", PERSONAL),
        ("bio", PERSONAL),
        ("mail", PERSONAL),
        ("lastName", PERSONAL),
        ("company.contact_person", PERSONAL),
        ("location.latitude", PERSONAL),
        ("customer_id", PERSONAL),
        ("device.id", PERSONAL),  # resolution matches people on device ids
        ("national_id", SENSITIVE),
        ("social_security_number", SENSITIVE),
        ("iban", SENSITIVE),
        ("credit_card", SENSITIVE),
        ("plan", NOT_PERSONAL),
        ("address.country", NOT_PERSONAL),
        ("page.url", NOT_PERSONAL),
        ("order_id", NOT_PERSONAL),
        ("productName", None),  # a product's name: the values decide
        ("orders", NOT_PERSONAL),
        ("widget", None),
        ("classname", None),  # "ssn" inside another word is not a social security number
    ],
)
def test_classify_key(path, klass):
    assert classify_key(path)[0] == klass


def test_a_propertys_event_says_whose_name_it_is():
    assert classify_key("name", owner="Product Viewed")[0] is None
    assert classify_key("name", owner="Signed Up")[0] == PERSONAL


def _sample(path, values, value_type="string"):
    return FieldSample(
        path=path,
        value_type=value_type,
        seen=sum(count for _v, count in values),
        distinct=len(values),
        values=values,
    )


@pytest.mark.parametrize(
    ("path", "values", "value_type", "klass"),
    [
        # The key says nothing; the values do.
        ("x1", [("Contact: x@example.com", 1)], "string", PERSONAL),
        ("x2", [("078-05-1120", 1)], "string", SENSITIVE),
        ("x3", [("4111111111111111", 1)], "number", SENSITIVE),
        ("x4", [("DE89370400440532013000", 1)], "string", SENSITIVE),
        ("x5", [("+49 151 1234 5678", 1)], "string", PERSONAL),
        ("x6", [("1984-02-29", 1), ("1990-05-01", 1)], "date", PERSONAL),
        ("x7", [("I love long walks on the beach with my dog", 1)], "string", PERSONAL),
        ("x8", [("Jane Doe", 1), ("John Roe", 1)], "string", PERSONAL),
        ("x9", [("52.5200, 13.4050", 1)], "string", PERSONAL),
        ("lat", [("52.52", 1)], "number", PERSONAL),
        # Values that repeat and look like nothing personal: categories.
        ("tier", [("gold", 9), ("silver", 4)], "string", NOT_PERSONAL),
        ("segment_x", [("a", 5), ("b", 3)], "string", NOT_PERSONAL),
        ("flag", [("1", 3)], "boolean", NOT_PERSONAL),
        # Unique strings nothing explains: unknown, masked until a person says.
        ("code", [("k1x9", 1), ("p2q8", 1)], "string", UNKNOWN),
        # A safe-sounding key with personal values is personal.
        ("plan", [("ann@example.com", 1)], "string", PERSONAL),
        # A personal key with harmless values stays personal.
        ("surname", [("Smith", 5)], "string", PERSONAL),
    ],
)
def test_classify_field_from_key_and_values(path, values, value_type, klass):
    verdict = classify_field(_sample(path, values, value_type), today=TODAY)
    assert verdict.classification == klass
    assert verdict.evidence  # always says why


def test_automatic_classification_only_gets_stricter_or_known():
    assert stricter(UNKNOWN, NOT_PERSONAL)
    assert stricter(NOT_PERSONAL, PERSONAL)
    assert stricter(PERSONAL, SENSITIVE)
    assert not stricter(PERSONAL, NOT_PERSONAL)
    assert not stricter(SENSITIVE, PERSONAL)
    assert not stricter(UNKNOWN, UNKNOWN)
