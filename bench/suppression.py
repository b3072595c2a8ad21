"""Benchmark the suppression check on the ingest path: what it adds per batch of messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdp_bench_suppression \\
        .venv/bin/python bench/suppression.py

For batches of 2,500 identify messages (a user id, an anonymous id and an e-mail each, with no
phone, an E.164 phone or a formatted phone), never seen before, the CPU time of reading and
hashing their identifiers, and the wall time of the one query against a list of 100,025 hashes
(25 people of the formatted-phone batch on it). Migrates the database it is given and fills its
suppression table. Output: name=value lines, with the load average and CPU seconds beside the times.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")

BATCH = 2500
LIST_SIZE = 100_000


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from compliance.models import Suppression
    from compliance.suppression import (
        _digester,
        identifier_digest,
        row_identifiers,
        suppressed_digests,
    )
    from integrations.tracking.ingest import message_row

    call_command("migrate", verbosity=0)
    Suppression.objects.all().delete()
    digest = _digester()
    Suppression.objects.bulk_create(
        [
            Suppression(kind="email", digest=digest("email", f"x{i}@example.com"))
            for i in range(LIST_SIZE)
        ]
        + [
            Suppression(kind="user_id", digest=identifier_digest("user_id", f"user-f{i}"))
            for i in range(0, BATCH, 100)
        ],
        batch_size=10_000,
    )
    now = timezone.now()
    print(f"load_before={os.getloadavg()[0]:.2f}")
    for label, phone in (
        ("no_phone", None),
        ("e164_phone", "+1415555%04d"),
        ("formatted_phone", "+1 415 555 %04d"),
    ):
        messages = [
            {
                "type": "identify",
                "userId": f"user-{label[0]}{i}",
                "anonymousId": f"anon-{label}-{i}",
                "traits": {
                    "email": f"Person{i}.{label}@Example.com",
                    **({"phone": phone % i} if phone else {}),
                },
            }
            for i in range(BATCH)
        ]
        rows = [
            message_row(
                m, batch_context=None, batch_integrations=None, sent_at=None, received_at=now
            )
            for m in messages
        ]
        cpu = time.process_time()
        digest = _digester()
        digests = [digest(kind, value) for row in rows for kind, value in row_identifiers(row)]
        cpu = time.process_time() - cpu
        wall = time.perf_counter()
        hit = suppressed_digests(digests)
        wall = time.perf_counter() - wall
        print(
            f"{label}_cpu_us_per_message={cpu / BATCH * 1e6:.0f} "
            f"{label}_query_ms={wall * 1000:.0f} {label}_found={len(hit)} "
            f"load={os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
