"""`rebuild`: re-derive every profile from the stored events, e.g. after the identity rules changed.

Identities and merges are dropped and built again. Profiles keep their ids where the same person
comes back, so links, consent records and segment memberships stay with them; a profile whose
person the new rules joined to another leads to that one. It asks first: people may come out
grouped differently.
"""

import sys
import time

from django.core.management.base import BaseCommand

from profiles.services import profiles_rebuild

BAR_WIDTH = 40


class Command(BaseCommand):
    help = "Re-derive every profile from the stored events, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, yes: bool, batch_size: int, **options):
        if not yes:
            answer = input(
                "This re-derives every profile from the events: identities and merges are "
                "built again, and people may come out grouped differently. Type 'yes' to go on: "
            )
            if answer.strip().lower() != "yes":
                self.stdout.write("Nothing changed.")
                return
        started = time.monotonic()
        interactive = sys.stdout.isatty()

        def progress(done: int, total: int) -> None:
            share = done / total if total else 1.0
            filled = int(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            line = f"[{bar}] {done}/{total} events ({share:.0%})"
            self.stdout.write(
                ("\r" + line) if interactive else line, ending="" if interactive else "\n"
            )
            self.stdout.flush()

        resolved = profiles_rebuild(batch_size=max(1, batch_size), progress=progress)
        self.stdout.write(
            f"\nRebuilt profiles from {resolved} events in {time.monotonic() - started:.1f}s."
        )
