"""`manage.py config export` and `manage.py config apply FILE`: the configuration as one YAML
file, for review in version control and promotion from one deployment to another."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp_site.config_as_code.engine import ConfigInvalidError, config_apply, config_export
from cdp_site.errors import DomainError


class Command(BaseCommand):
    help = (
        "Export the whole configuration as YAML (no secrets), or apply a file: check it whole, "
        "show the plan, and make this deployment match it in one transaction."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="Write the configuration as YAML.")
        export.add_argument("--output", "-o", help="A file to write (default: standard output).")
        apply = actions.add_parser("apply", help="Make this deployment match a file.")
        apply.add_argument("file", help="The YAML file ('-' for standard input).")
        apply.add_argument(
            "--dry-run", action="store_true", help="Show the plan and write nothing."
        )
        apply.add_argument(
            "--prune",
            action="store_true",
            help="Delete what the file's sections do not list (without it, nothing is deleted).",
        )
        apply.add_argument(
            "--show-unchanged", action="store_true", help="List unchanged objects too."
        )

    def handle(self, *args, action: str, **options):
        try:
            if action == "export":
                self._export(options.get("output"))
            else:
                self._apply(options)
        except ConfigInvalidError as error:
            raise CommandError(error.message) from None
        except DomainError as error:
            raise CommandError(error.message) from None

    def _export(self, output: str | None) -> None:
        text = config_export()
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Configuration written to {output}.")
        else:
            self.stdout.write(text, ending="")

    def _apply(self, options: dict) -> None:
        name = options["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {name}: {error.strerror}.") from None
        plan = config_apply(text, prune=options["prune"], dry_run=options["dry_run"])
        for line in plan.lines(verbose=options["show_unchanged"]):
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        elif plan.writes:
            self.stdout.write("Applied.")
        else:
            self.stdout.write("Nothing to change.")
