"""A synthetic online shop: Segment-spec messages for N customers, reproducible from a seed.

Pure Python, no database: `shop_messages` yields `(source name, message)` pairs exactly as the
SDKs would send them, with the messiness of real data: e-mails in mixed case with stray spaces
(now and then one mistyped past a form), phones in national and international formats,
placeholder ids ("undefined", "null", zeros) from broken tags, one person on a laptop, a phone
app and a work computer, households sharing a tablet, anonymous browsing before sign-up, people
who never sign up at all, support tickets and e-mail engagement from other systems, consent
choices.

Activity is placed relative to a given end (by default the start of today, UTC): each person's
last message falls within the 60 days before it, so "in the last 90 days" finds people on any
day the demo is loaded. The same seed and end give the same messages; another end, the same
messages moved in time.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

WEB = "Demo shop"
APP = "Demo shop app"
HELPDESK = "Helpdesk"
EMAIL = "E-mail platform"
SOURCES = (WEB, APP, HELPDESK, EMAIL)

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Anton",
    "Aya",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Chloe",
    "Dara",
    "David",
    "Elena",
    "Emil",
    "Fatima",
    "Finn",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jada",
    "James",
    "Jana",
    "Jonas",
    "Kai",
    "Kim",
    "Lara",
    "Leo",
    "Lina",
    "Luca",
    "Maja",
    "Malik",
    "Maria",
    "Mateo",
    "Mia",
    "Nadia",
    "Noah",
    "Nora",
    "Omar",
    "Paula",
    "Priya",
    "Rafael",
    "Rosa",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Uma",
    "Victor",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Abe",
    "Ahmed",
    "Berg",
    "Brown",
    "Costa",
    "Diaz",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Gupta",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Park",
    "Patel",
    "Perez",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Smith",
    "Tanaka",
    "Taylor",
    "Wagner",
    "Wang",
    "Weber",
    "Wilson",
    "Yilmaz",
]
DOMAINS = ("example.com", "mail.example", "post.example.org", "inbox.example.net")
CITIES = (
    ("San Francisco", "US", "415"),
    ("New York", "US", "212"),
    ("Chicago", "US", "312"),
    ("Austin", "US", "512"),
    ("Seattle", "US", "206"),
    ("Boston", "US", "617"),
)
PRODUCTS = (
    ("sku-101", "Trail running shoes", "Shoes", 119.0),
    ("sku-102", "Merino T-shirt", "Apparel", 45.0),
    ("sku-103", "Rain jacket", "Apparel", 149.0),
    ("sku-104", "Water bottle", "Accessories", 19.5),
    ("sku-105", "Headlamp", "Accessories", 34.0),
    ("sku-106", "Hiking socks (3 pack)", "Apparel", 24.0),
    ("sku-107", "Day pack 22 l", "Bags", 89.0),
    ("sku-108", "Trekking poles", "Accessories", 79.0),
)
PAGES = (("/", "Home"), ("/new", "New arrivals"), ("/sale", "Sale"), ("/help", "Help"))
TICKET_SUBJECTS = ("Where is my order?", "Wrong size", "Refund request", "Damaged item")
CAMPAIGNS = ("Spring sale", "New arrivals", "Back in stock", "Weekly picks")
# The purposes every installation is seeded with (compliance's migration 0002), so that the
# builder's consent picker and the demo's consent choices name the same ones.
CONSENT_PURPOSES = ("email_marketing", "sms_marketing", "advertising", "analytics")
# Each person's last message falls this many days (at most) before the end of the demo data.
RECENT_DAYS = 60


@dataclass
class Person:
    index: int
    first: str
    last: str
    email: str
    phone: str
    city: tuple[str, str, str]
    user_id: str
    # Anonymous ids of browsers. With the tablet, the app and the e-mail platform a person has
    # at most five, Segment's default limit for anonymous ids.
    devices: list[str]
    app_device: str | None
    signs_up: bool
    messages: list[tuple[str, dict]] = field(default_factory=list)


def _messy_email(rng: random.Random, email: str) -> str:
    """The same address as people type it: capitals, spaces around it."""
    roll = rng.random()
    if roll < 0.2:
        return email.upper()
    if roll < 0.4:
        local, domain = email.split("@")
        return f"{local.capitalize()}@{domain.capitalize()}"
    if roll < 0.55:
        return f"  {email} "
    return email


def _rarely(message_id: str, percent: int) -> bool:
    """True for about `percent` in 100 messages, decided by the message id: the random sequence
    (and with it every other message of a seed) stays as it was."""
    return int(message_id[:8], 16) % 100 < percent


def _placeholder_id(message_id: str) -> str:
    """A value broken tags send for an id: blocked, so it never matches anyone."""
    return ("undefined", "null", "00000000-0000-0000-0000-000000000000")[
        int(message_id[-1], 16) % 3
    ]


def _typo_email(email: str) -> str:
    """An address as a hurried form lets it through: it never matches anyone, and stays a trait."""
    local, _, domain = email.partition("@")
    return f"{local} at {domain}" if len(local) % 2 else f"{local}@{domain.split('.')[0]}"


def _messy_phone(rng: random.Random, area: str, number: str) -> str:
    """One US number in the ways forms store it."""
    formats = (
        f"({area}) {number[:3]}-{number[3:]}",
        f"+1 {area} {number[:3]} {number[3:]}",
        f"{area}.{number[:3]}.{number[3:]}",
        f"+1{area}{number}",
        f"1-{area}-{number[:3]}-{number[3:]}",
    )
    return rng.choice(formats)


class _Clock:
    def __init__(self, rng: random.Random, start: datetime):
        self.rng = rng
        self.now = start

    def tick(self, low: float = 5, high: float = 120) -> str:
        self.now += timedelta(seconds=self.rng.uniform(low, high))
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def jump(self, days_low: float, days_high: float) -> None:
        self.now += timedelta(days=self.rng.uniform(days_low, days_high))


def _base(kind: str, timestamp: str, rng: random.Random, **fields) -> dict:
    message = {
        "type": kind,
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": timestamp,
        "context": {"library": {"name": "demo-shop-generator", "version": "1.0"}},
    }
    message.update({k: v for k, v in fields.items() if v is not None})
    return message


def _person(rng: random.Random, index: int, seed: int) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city = rng.choice(CITIES)
    local = f"{first}.{last}".lower().replace("ü", "ue")
    email = f"{local}{index}@{rng.choice(DOMAINS)}"
    number = f"{rng.randrange(200, 999)}{rng.randrange(1000, 9999)}"
    devices = [f"web-{seed}-{index}-{n}" for n in range(rng.choice((1, 1, 1, 2, 2)))]
    return Person(
        index=index,
        first=first,
        last=last,
        email=email,
        phone=f"{city[2]}{number}",
        city=city,
        user_id=f"cust-{seed}-{index:07d}",
        devices=devices,
        app_device=f"app-{seed}-{index}" if rng.random() < 0.35 else None,
        signs_up=rng.random() < 0.7,
    )


def _web_session(
    rng: random.Random, clock: _Clock, person: Person, anonymous_id: str, known: bool
) -> None:
    user = person.user_id if known else None
    for _ in range(rng.randint(1, 4)):
        path, title = rng.choice(PAGES)
        message = _base(
            "page",
            clock.tick(),
            rng,
            anonymousId=anonymous_id,
            userId=user,
            name=title,
            properties={"path": path, "title": title, "url": f"https://shop.example{path}"},
        )
        if user and _rarely(message["messageId"], 2):
            # A broken tag writes the placeholder instead of the browser's id.
            message["anonymousId"] = _placeholder_id(message["messageId"])
        person.messages.append((WEB, message))
    for _ in range(rng.randint(0, 3)):
        product = _product(rng)  # drawn before the clock ticks: the seed keeps its data
        person.messages.append(
            (
                WEB,
                _base(
                    "track",
                    clock.tick(),
                    rng,
                    anonymousId=anonymous_id,
                    userId=user,
                    event="Product Viewed",
                    properties=product,
                ),
            )
        )


def _product(rng: random.Random) -> dict:
    """A product from the catalogue, as the shop's events describe it."""
    sku, name, category, price = rng.choice(PRODUCTS)
    return {"product_id": sku, "name": name, "category": category, "price": price}


def _order(rng: random.Random, clock: _Clock, person: Person, anonymous_id: str) -> None:
    lines = []
    for _ in range(rng.randint(1, 3)):
        lines.append({**_product(rng), "quantity": rng.randint(1, 2)})
    revenue = round(sum(line["price"] * line["quantity"] for line in lines), 2)
    person.messages.append(
        (
            WEB,
            _base(
                "track",
                clock.tick(),
                rng,
                anonymousId=anonymous_id,
                userId=person.user_id,
                event="Order Completed",
                properties={
                    "order_id": f"ord-{person.index}-{rng.getrandbits(32):08x}",
                    "revenue": revenue,
                    "currency": "USD",
                    "products": lines,
                },
            ),
        )
    )


def _identify(
    rng: random.Random,
    clock: _Clock,
    person: Person,
    anonymous_id: str,
    source: str = WEB,
    typos: bool = False,
) -> dict:
    traits = {
        "email": _messy_email(rng, person.email),
        "name": f"{person.first} {person.last}",
        "first_name": person.first,
        "last_name": person.last,
        "address": {"city": person.city[0], "country": person.city[1]},
    }
    if rng.random() < 0.8:
        traits["phone"] = _messy_phone(rng, person.phone[:3], person.phone[3:])
    message = _base(
        "identify",
        clock.tick(),
        rng,
        anonymousId=anonymous_id,
        userId=person.user_id,
        traits=traits,
    )
    if typos and _rarely(message["messageId"], 5):
        traits["email"] = _typo_email(person.email)
    return message


def _life(rng: random.Random, person: Person, start: datetime, days: int) -> None:
    clock = _Clock(rng, start + timedelta(days=rng.uniform(0, days * 0.5)))
    known = False
    first_device = person.devices[0]
    for _ in range(rng.randint(1, 3)):
        _web_session(rng, clock, person, first_device, known=False)
        clock.jump(0.2, 6)
    if not person.signs_up:
        return
    # Sign-up: identify on the first browser stitches its anonymous history.
    person.messages.append((WEB, _identify(rng, clock, person, first_device)))
    known = True
    if rng.random() < 0.3:
        person.messages.append(
            (WEB, _base("alias", clock.tick(), rng, userId=person.user_id, previousId=first_device))
        )
    # The consent banner's choice, as Segment's Consent Management sends it; some people change
    # their mind later.
    for _ in range(rng.choices((1, 2), (85, 15))[0]):
        message = _base(
            "track",
            clock.tick(),
            rng,
            userId=person.user_id,
            anonymousId=first_device,
            event="Segment Consent Preference Updated",
        )
        message["context"]["consent"] = {
            "categoryPreferences": {p: rng.random() < 0.75 for p in CONSENT_PURPOSES}
        }
        person.messages.append((WEB, message))
        clock.jump(0.5, 20)
    for _ in range(rng.randint(0, 5)):
        clock.jump(1, days / 6)
        device = rng.choice(person.devices)
        if device != first_device and rng.random() < 0.6:
            # A new browser: anonymous at first, then logs in (a form there may take a typo).
            _web_session(rng, clock, person, device, known=False)
            person.messages.append((WEB, _identify(rng, clock, person, device, typos=True)))
        else:
            _web_session(rng, clock, person, device, known=known)
        if rng.random() < 0.55:
            _order(rng, clock, person, device)
    if person.app_device:
        anon = f"appanon-{person.app_device}"
        device_ctx = {"id": person.app_device, "type": "ios", "model": "iPhone"}
        for n in range(rng.randint(2, 6)):
            message = _base(
                "screen",
                clock.tick(),
                rng,
                anonymousId=anon,
                userId=person.user_id if n else None,
                name=rng.choice(("Home", "Product", "Cart", "Orders")),
            )
            message["context"]["device"] = device_ctx
            person.messages.append((APP, message))
    for _ in range(rng.choices((0, 1, 2), (60, 30, 10))[0]):
        clock.jump(0.5, 10)
        message = _base(
            "track",
            clock.tick(),
            rng,
            userId=person.user_id,
            event="Ticket Created",
            properties={
                "ticket_id": f"t-{rng.getrandbits(24):06x}",
                "subject": rng.choice(TICKET_SUBJECTS),
            },
        )
        message["context"]["traits"] = {"email": _messy_email(rng, person.email)}
        message["context"]["externalIds"] = [
            {
                "id": f"zd-{person.index}",
                "type": "zendesk_id",
                "collection": "users",
                "encoding": "none",
            }
        ]
        person.messages.append((HELPDESK, message))
    for _ in range(rng.randint(0, 4)):
        clock.jump(1, 14)
        campaign = rng.choice(CAMPAIGNS)
        for event in ("Email Delivered", "Email Opened", "Email Link Clicked")[: rng.randint(1, 3)]:
            message = _base(
                "track",
                clock.tick(60, 3600),
                rng,
                anonymousId=f"esp-{person.index}",
                event=event,
                properties={"campaign": campaign, "email_id": f"em-{rng.getrandbits(24):06x}"},
            )
            # The e-mail platform knows the address, not our user id.
            message["context"]["traits"] = {"email": person.email}
            person.messages.append((EMAIL, message))


def _shared_tablet(rng: random.Random, a: Person, b: Person, seed: int) -> None:
    """Two people of one household log in on the same tablet: they must stay two people."""
    tablet = f"tablet-{seed}-{a.index}-{b.index}"
    for person in (a, b):
        if not person.signs_up:
            continue
        clock = _Clock(rng, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(10, 80)))
        _web_session(rng, clock, person, tablet, known=False)
        person.messages.append((WEB, _identify(rng, clock, person, tablet)))


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _moved(person: Person, seed: int, end: datetime) -> list[tuple[str, dict]]:
    """The person's messages moved in time so the last falls within `RECENT_DAYS` before `end`.

    The person's own generator decides where (seeded by seed and index), so the main sequence,
    and with it every message's content and id, stays as it was.
    """
    if not person.messages:
        return []
    last = max(_timestamp(message["timestamp"]) for _, message in person.messages)
    place = random.Random(f"{seed}-{person.index}")  # noqa: S311 - synthetic data
    target = end - timedelta(days=place.uniform(0, RECENT_DAYS))
    shift = target - last
    moved = []
    for source, message in person.messages:
        stamp = _timestamp(message["timestamp"]) + shift
        text = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        moved.append((source, {**message, "timestamp": text}))
    return moved


def _start_of_today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def shop_messages(
    *,
    profiles: int,
    seed: int = 1,
    start: datetime | None = None,
    days: int = 90,
    end: datetime | None = None,
) -> Iterator[tuple[str, dict]]:
    """`(source name, message)` for `profiles` people; the same seed gives the same messages.

    Lives are drawn from `start` over `days`, then each person's are moved to end within
    `RECENT_DAYS` before `end` (the start of today, UTC, unless given).
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    end = end or _start_of_today()
    previous: Person | None = None
    for index in range(profiles):
        person = _person(rng, index, seed)
        _life(rng, person, start, days)
        if previous is not None:
            if rng.random() < 0.05:
                _shared_tablet(rng, previous, person, seed)
            yield from _moved(previous, seed, end)
        previous = person
    if previous is not None:
        yield from _moved(previous, seed, end)
