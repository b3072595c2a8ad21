"""Detectors of personal data in single values: pure functions, one per kind of data.

Each answers whether a value holds a kind of personal data, anywhere in it where that makes
sense (an e-mail inside `Contact: x@example.com`, a card number inside a sentence). The
classifier counts their answers over the values sampled for a field; the masking scrubs the
same patterns out of values it shows.
"""

from __future__ import annotations

import datetime as dt
import re

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# URL-encoded e-mail addresses (`x%40example.com`) in query strings.
EMAIL_ENCODED = re.compile(
    r"[A-Za-z0-9._%+\-]+%40[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", re.IGNORECASE
)
# A run of digits with the separators people write them with; checked for length afterwards.
_DIGIT_RUN = re.compile(r"(?<![\w.\-])\+?\(?\d[\d \-().]{5,22}\d(?![\w.])")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_CARD_RUN = re.compile(r"(?<![\d+])\d(?:[ \-]?\d){12,18}(?!\d)")
_IBAN_START = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]*$")
_US_SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
_UK_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_COORDINATE_PAIR = re.compile(r"^\s*(-?\d{1,3}\.\d{3,})\s*[,; ]\s*(-?\d{1,3}\.\d{3,})\s*$")
_DATE_ONLY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_WORD = re.compile(r"(?<!\S)[^\W\d_]+")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|/)\S*$", re.IGNORECASE)
_NAME_WORD = re.compile(r"^[A-ZÀ-Þ][a-zß-ÿ']+(?:-[A-ZÀ-Þ][a-zß-ÿ']+)*$")

# Strings at least this long are free text, whatever they say.
FREE_TEXT_LENGTH = 40
# The youngest person whose date of birth a shop keeps.
BIRTH_MIN_AGE_YEARS = 13


def find_emails(text: str) -> list[str]:
    """E-mail addresses anywhere in `text`, plain or URL-encoded."""
    return EMAIL.findall(text) + EMAIL_ENCODED.findall(text)


def has_email(text: str) -> bool:
    return bool(find_emails(text))


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a payment card number (digits only)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def find_cards(text: str) -> list[str]:
    """Payment card numbers in `text`: 13 to 19 digits (spaces or dashes between) that pass the
    Luhn check and are not one digit repeated."""
    found = []
    for match in _CARD_RUN.findall(text):
        digits = re.sub(r"\D", "", match)
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits):
            found.append(match)
    return found


def has_card(text: str) -> bool:
    return bool(find_cards(text))


def iban_valid(text: str) -> bool:
    """The ISO 13616 check of an IBAN (spaces allowed): moved country and check digits, mod 97."""
    compact = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def find_ibans(text: str) -> list[str]:
    """IBANs in `text`, written compact or in groups: each word that starts like one is joined
    with the words after it until the checksum holds."""
    words = [word.strip(".,;:()[]\"'") for word in text.split()]
    found = []
    for start, word in enumerate(words):
        if not _IBAN_START.match(word.upper()):
            continue
        for end in range(start + 1, min(start + 10, len(words)) + 1):
            candidate = " ".join(words[start:end])
            if iban_valid(candidate):
                found.append(candidate)
                break
    return found


def has_iban(text: str) -> bool:
    return bool(find_ibans(text))


def find_national_ids(text: str) -> list[str]:
    """National identification numbers by their shape: US social security numbers
    (`078-05-1120`) and UK national insurance numbers (`QQ 12 34 56 C`)."""
    return _US_SSN.findall(text) + _UK_NINO.findall(text)


def has_national_id(text: str) -> bool:
    return bool(find_national_ids(text))


def find_phones(text: str) -> list[str]:
    """Telephone numbers in `text`: 7 to 15 digits, written with a leading `+` or `0`, or grouped
    by spaces, dashes or brackets; dates, national ids and card numbers are not phones."""
    found = []
    for match in _DIGIT_RUN.findall(text):
        candidate = match.strip()
        digits = re.sub(r"\D", "", candidate)
        if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(candidate):
            continue
        if _US_SSN.fullmatch(candidate) or (
            not candidate.startswith("+") and find_cards(candidate)
        ):
            continue
        if "." in candidate and not candidate.startswith("+"):
            continue  # a decimal number
        grouped = any(ch in candidate for ch in " -()")
        if candidate.startswith(("+", "0", "(")) or grouped:
            found.append(candidate)
    return found


def has_phone(text: str) -> bool:
    return bool(find_phones(text))


def is_coordinate_pair(value: object) -> bool:
    """A latitude and longitude: `"52.5200, 13.4050"` or `[52.52, 13.405]`."""
    if isinstance(value, list | tuple) and len(value) == 2:
        pair = value
    elif isinstance(value, str) and (match := _COORDINATE_PAIR.match(value)):
        pair = (match.group(1), match.group(2))
    else:
        return False
    try:
        lat, lon = (float(part) for part in pair)
    except (TypeError, ValueError):
        return False
    if isinstance(pair[0], bool) or isinstance(pair[1], bool):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat % 1 or lon % 1) != 0


def is_coordinate(value: object, *, longitude: bool = False) -> bool:
    """One latitude (or longitude) given as a number with decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    limit = 180 if longitude else 90
    return -limit <= number <= limit and number % 1 != 0


def parse_day(text: str) -> dt.date | None:
    """A date written without a time (`1984-02-29`, `29.02.1984`, `29/02/1984`)."""
    match = _DATE_ONLY.match(text.strip())
    if not match:
        return None
    if match.group(1):
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    else:
        day, month, year = int(match.group(4)), int(match.group(5)), int(match.group(6))
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def is_birth_date(text: str, *, today: dt.date) -> bool:
    """A day (no time) from 1900 up to the youngest customer's birthday: reads as a birth date."""
    day = parse_day(text)
    if day is None:
        return False
    latest = today.replace(year=today.year - BIRTH_MIN_AGE_YEARS, day=min(today.day, 28))
    return dt.date(1900, 1, 1) <= day <= latest


def is_free_text(text: str) -> bool:
    """Text people write: long, or several words (an address of a page is neither)."""
    if _URL.match(text.strip()):
        return False
    return len(text) >= FREE_TEXT_LENGTH or len(_WORD.findall(text)) >= 4


def is_person_name(text: str) -> bool:
    """Two or three capitalised words: `Jane Doe`, `Anne-Marie van Dijk` reads as a name."""
    words = text.split()
    capitalised = [word for word in words if _NAME_WORD.match(word)]
    return 2 <= len(words) <= 4 and len(capitalised) >= 2


def scrub(text: str) -> str:
    """`text` with every e-mail address, card number, IBAN, national id and phone number in it
    masked, the rest kept: what is shown of a value known to be safe, in case one slipped in."""
    from ..masking import mask_email, mask_phone

    text = EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    text = EMAIL_ENCODED.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), text)
    for found in find_cards(text) + find_ibans(text) + find_national_ids(text):
        text = text.replace(found, "*" * len(found))
    for found in find_phones(text):
        text = text.replace(found, mask_phone(found))
    return text
