"""``manage.py privacy_kit_check``: the policy, the data map and the models, checked together."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from .....model import check
from ..._commands import FINDINGS, command_errors
from ..._settings import privacy_kit_settings


class Command(BaseCommand):  # type: ignore[misc] # Django ships no type information
    help = (
        "Load PRIVACY_KIT's policy and data map, check them against each other and the data "
        "map against the models and their tables. Exit 0: no errors; 1: errors found; "
        "2: bad settings or files."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors():
            config = privacy_kit_settings()
            policy, datamap = config.load()
            report = check(policy, datamap)
            adapter = config.adapter()
            problems = adapter.verify(datamap)
        errors = len(report.errors) + len(problems)
        if options["json"]:
            document = {
                "ok": errors == 0,
                "findings": [
                    {"code": f.code, "severity": str(f.severity), "location": f.location,
                     "message": f.message}
                    for f in report
                ],
                "store": [{"location": p.location, "message": p.message} for p in problems],
            }  # fmt: skip
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write(
                f"policy {config.policy} (version {policy.version}), data map {config.datamap}: "
                f"{len(datamap.record_types)} record type(s) on database {config.database!r}"
            )
            for finding in report:
                self.stdout.write(f"  {finding}")
            for problem in problems:
                self.stdout.write(f"  error store: datamap:{problem}")
            self.stdout.write(
                f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in the policy "
                f"and data map; {len(problems)} problem(s) between the data map and the models"
            )
        if errors:
            raise CommandError(f"{errors} error(s) found", returncode=FINDINGS)
