"""`generate_data --profiles N --seed S`: a synthetic shop, sent through the tracking ingest path.

The messages go through `tracking_messages_ingest` exactly as the /v1/batch endpoint sends them
(validation, clock correction, dedupe on messageId), then identity resolution runs. The same
seed gives the same messages, so running it twice stores nothing new.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from integrations.demo_data import SOURCES, shop_messages
from integrations.models import Source
from integrations.tracking.ingest import MAX_BATCH_MESSAGES, tracking_messages_ingest
from profiles.catalogue.scan import catalogue_refresh
from profiles.identity import events_resolve_pending
from profiles.models import Event, Profile

BATCH = 1000


class Command(BaseCommand):
    help = "Generate a synthetic shop's customers and send their events through the ingest path."

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=1000, help="How many people.")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already holds events (for first start).",
        )
        parser.add_argument(
            "--no-resolve", action="store_true", help="Store the events but do not resolve them."
        )

    def handle(self, *args, profiles: int, seed: int, no_resolve: bool, if_empty: bool, **options):
        if profiles < 1:
            raise CommandError("--profiles must be at least 1.")
        if if_empty and (Event.objects.exists() or Profile.objects.exists()):
            self.stdout.write("The database already holds customer data; nothing generated.")
            return
        started = time.monotonic()
        sources = {name: Source.objects.get_or_create(name=name)[0] for name in SOURCES}
        pending: dict[str, list[dict]] = {name: [] for name in SOURCES}
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}

        def flush(name: str) -> None:
            if not pending[name]:
                return
            result = tracking_messages_ingest(source=sources[name], messages=pending[name])
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["rejected"] += len(result.rejected)
            pending[name] = []

        for name, message in shop_messages(profiles=profiles, seed=seed):
            pending[name].append(message)
            if len(pending[name]) >= min(BATCH, MAX_BATCH_MESSAGES):
                flush(name)
        for name in SOURCES:
            flush(name)
        self.stdout.write(
            f"Stored {totals['accepted']} events ({totals['duplicates']} duplicates, "
            f"{totals['rejected']} rejected) in {time.monotonic() - started:.1f}s."
        )
        if no_resolve:
            return
        pending_count = Event.objects.filter(resolved_at__isnull=True).count()
        resolve_started = time.monotonic()

        def progress(done: int) -> None:
            self.stdout.write(f"\rResolved {done}/{pending_count} events", ending="")
            self.stdout.flush()

        resolved = events_resolve_pending(progress=progress)
        self.stdout.write(
            f"\nResolved {resolved} events in {time.monotonic() - resolve_started:.1f}s."
        )
        # The data catalogue from the whole sample at once: the builder suggests its fields and
        # masking knows their classes from the first page a person opens.
        fields = catalogue_refresh()
        self.stdout.write(f"The data catalogue holds {fields} fields.")
