"""The rendered notices in a real browser: headless chromium (Debian's package) reads the page.

Skipped, with the reason, where chromium is not installed (``nox -s notices`` installs it).
Screenshots go to ``$PRIVACY_KIT_NOTICE_OUT`` when set (the nox session), else to a temp dir.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import privacy_kit as pk
from privacy_kit.notices import render_notice

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium, or nox -s notices)",
)


def _flags(profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


class _Sections(html.parser.HTMLParser):
    """Collects the root element's lang/dir and the visible text of each <section>."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.sections: dict[str, str] = {}
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.root = a
        if tag == "section":
            self._current, self._depth = a.get("id") or "?", 1
            self.sections[self._current] = ""
        elif self._current is not None and tag == "section":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._current is not None:
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.sections[self._current] += data


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("PRIVACY_KIT_NOTICE_OUT")
    path = Path(target) if target else tmp_path_factory.mktemp("notices")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize(("lang", "direction"), [("en", "ltr"), ("ar", "rtl")])
def test_notice_in_chromium(lang: str, direction: str, out_dir: Path, tmp_path: Path) -> None:
    policy = pk.load_policy(pk.example_path())
    page = out_dir / f"notice_{lang}.html"
    page.write_text(render_notice(policy, format="html", lang=lang), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, *_flags(tmp_path / "dom"), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    parsed = _Sections()
    parsed.feed(dom)
    # What the browser built, not what we wrote: the live DOM's root carries the direction.
    assert parsed.root.get("lang") == lang
    assert parsed.root.get("dir") == direction
    expected = {
        "about", "who", "collected", "purposes", "sharing", "storage", "retention",
        "rights", "requests", "breach", "children", "communications", "changes", "contact",
    }  # fmt: skip
    assert set(parsed.sections) == expected
    for key, text in parsed.sections.items():
        words = text.split()
        assert len(words) > 5, f"section {key!r} is (nearly) empty in the {lang} page"
    if lang == "ar":
        assert "[en]" not in dom, "the Arabic example must not need any English fallback"

    shot = out_dir / f"notice_{lang}.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [CHROMIUM, *_flags(tmp_path / "shot"), f"--screenshot={shot}", "--window-size=1200,4000",
         page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes
