"""``manage.py privacy_kit_export KIND identity=value --out PATH``: a subject's data bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from ..._commands import add_subject_arguments, as_of, command_errors, subject
from ..._settings import get_engine


class Command(BaseCommand):  # type: ignore[misc] # Django ships no type information
    help = (
        "Export everything held about a subject (access, portability) as a zip file or a "
        "folder: JSON, NDJSON and CSV per record type, with a manifest."
    )

    def add_arguments(self, parser: Any) -> None:
        add_subject_arguments(parser)
        parser.add_argument("--out", required=True, type=Path, help="the zip file or folder")
        parser.add_argument("--format", choices=["zip", "folder"], default="zip")
        parser.add_argument("--lang", default="en", help="language of the manifest's texts")

    def handle(self, *args: Any, **options: Any) -> None:
        now = as_of(options["now"])
        with command_errors():
            engine = get_engine()
        who = subject(options["kind"], options["identities"], datamap=engine.datamap)
        with command_errors():
            result = engine.export(
                who, options["out"], now=now, format=options["format"], lang=options["lang"]
            )
        total = sum(result.counts.values())
        self.stdout.write(
            f"exported {total} record(s) about {who.kind} {result.subject_reference} to "
            f"{result.path} (as of {now.isoformat()})"
        )
        for entry, count in result.counts.items():
            self.stdout.write(f"  {entry:<28} {count}")
        if not total:
            self.stdout.write(
                "  nothing is held about this subject; searched: "
                + (", ".join(result.searched) or "no record type links this subject")
            )
