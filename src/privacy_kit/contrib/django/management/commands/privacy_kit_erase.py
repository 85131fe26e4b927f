"""``manage.py privacy_kit_erase KIND identity=value``: a subject's erasure, planned and applied."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ..._commands import add_subject_arguments, as_of, command_errors, subject
from ..._settings import get_engine


class Command(BaseCommand):  # type: ignore[misc] # Django ships no type information
    help = (
        "Plan the erasure of a subject (what is deleted, anonymised and kept, and why), print "
        "it, and apply it unless --dry-run."
    )

    def add_arguments(self, parser: Any) -> None:
        add_subject_arguments(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="print the plan and change nothing"
        )
        parser.add_argument(
            "--waive",
            action="append",
            default=[],
            metavar="EXCEPTION",
            help="an erasure exception of the policy not to apply (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = as_of(options["now"])
        with command_errors():
            engine = get_engine()
        who = subject(options["kind"], options["identities"], datamap=engine.datamap)
        with command_errors():
            plan = engine.plan_erasure(who, now=now, waive=options["waive"])
            self.stdout.write(str(plan))
            if options["dry_run"]:
                self.stdout.write(f"dry run: nothing changed (plan {plan.plan_id})")
                return
            report = engine.apply(plan)
        self.stdout.write(str(report))
