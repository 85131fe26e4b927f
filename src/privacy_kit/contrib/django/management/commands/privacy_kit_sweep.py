"""``manage.py privacy_kit_sweep``: the retention sweep due now, planned, shown and applied."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ..._commands import add_now_argument, as_of, command_errors
from ..._settings import get_engine


class Command(BaseCommand):  # type: ignore[misc] # Django ships no type information
    help = (
        "Plan the retention sweep due at --now (default: the current time), print the plan, "
        "and apply it unless --dry-run."
    )

    def add_arguments(self, parser: Any) -> None:
        add_now_argument(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="print the plan and change nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            help="records per statement (default: each store's own statement plan)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = as_of(options["now"])
        with command_errors():
            engine = get_engine()
            plan = engine.plan_retention(now=now, batch_size=options["batch_size"])
            self.stdout.write(plan.summary())
            if options["dry_run"]:
                self.stdout.write(f"dry run: nothing changed ({plan.total} record(s) planned)")
                return
            report = engine.apply(plan)
        self.stdout.write(str(report))
