"""A griffe extension for the API reference: read privacy_kit's docstrings as they are written.

privacy_kit's docstrings follow Google style with a singular ``Example:`` section (which griffe
reads as an admonition, so the doctest lines would render as Markdown) and name other objects
with Sphinx roles (``:class:`AuditLog```), which Markdown shows verbatim. This extension, loaded
by mkdocs.yml, turns ``Example:`` into ``Examples:`` (rendered as Python console code) and a role
into plain code, before mkdocstrings parses the docstring. The source stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.M)
_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const|py:\w+):`~?([^`]+)`")


class PrivacyKitDocstrings(griffe.Extension):
    """Rewrite ``Example:`` sections and Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        docstring.value = _ROLE.sub(r"`\1`", _EXAMPLE.sub(r"\1Examples:", docstring.value))
