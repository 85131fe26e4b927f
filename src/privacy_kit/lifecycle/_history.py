"""Every published version of a policy (:class:`PolicyHistory` of :class:`PolicyVersion`): the
instant each took effect, which one was in force at a given time, the diffs between consecutive
versions, and export of any version or the whole history as JSON or YAML (and reading it back),
so prior versions stay available on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import closest, require_aware, unknown_name
from ..model._policy import Policy
from ._diff import Materiality, PolicyDiff, diff

__all__ = ["PolicyHistory", "PolicyVersion"]

ExportFormat = Literal["json", "yaml"]


@attrs.frozen
class PolicyVersion:
    """A published version of a policy and the instant it took effect.

    Example:
        >>> import privacy_kit as pk
        >>> v = PolicyHistory([pk.load_policy(pk.example_path())]).latest
        >>> v.version, v.effective_at.isoformat()
        ('2024.1', '2024-05-01T00:00:00+00:00')
    """

    policy: Policy
    effective_at: dt.datetime

    @property
    def version(self) -> str:
        """The policy's version string."""
        return self.policy.version

    def document(self) -> dict[str, Any]:
        """The policy as a plain JSON-compatible mapping that :func:`~privacy_kit.load_policy` reads."""
        data: dict[str, Any] = self.policy.model_dump(mode="json", exclude_none=True)
        return data

    def export(self, format: ExportFormat = "json") -> str:  # noqa: A002 - the natural name
        """This version as a JSON or YAML document (loadable with :func:`~privacy_kit.load_policy`).

        Raises:
            ConfigurationError: an unknown format, or YAML without PyYAML installed.
        """
        return _dump(self.document(), format)


def _dump(data: Any, format: str) -> str:  # noqa: A002
    if format == "json":
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
    if format == "yaml":
        try:
            import yaml  # noqa: PLC0415 - optional dependency, only when YAML is asked for
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "exporting YAML needs PyYAML: pip install 'privacy-kit[yaml]'"
            ) from exc
        text: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        return text
    raise ConfigurationError(f"unknown export format {format!r}; use 'json' or 'yaml'")


def _zone(tz: dt.tzinfo | str) -> dt.tzinfo:
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(f"unknown time zone {tz!r}") from exc
    return tz


class PolicyHistory:
    """Every published version of a policy, ordered by the instant each took effect.

    A version takes effect at the start of its ``effective`` date in ``tz`` (UTC by default)
    unless :meth:`add` is given an explicit instant.

    Args:
        policies: versions to start with.
        tz: the time zone in which effective dates begin (a ``tzinfo`` or an IANA name).

    Raises:
        ConfigurationError: two versions share a version string or an effective instant.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> v1 = pk.load_policy(pk.example_path())
        >>> v2 = v1.replace(version="2025.1", effective="2025-03-01")
        >>> history = PolicyHistory([v1, v2], tz="Europe/Paris")
        >>> history.in_force(dt.datetime(2025, 2, 28, 23, 30, tzinfo=dt.UTC)).version
        '2025.1'
        >>> history.in_force(dt.datetime(2025, 2, 28, 22, 30, tzinfo=dt.UTC)).version
        '2024.1'
    """

    def __init__(self, policies: Iterable[Policy] = (), *, tz: dt.tzinfo | str = dt.UTC) -> None:
        self.tz = _zone(tz)
        self._versions: list[PolicyVersion] = []
        for policy in policies:
            self.add(policy)

    def add(self, policy: Policy, *, effective_at: dt.datetime | None = None) -> PolicyVersion:
        """Add a version; it takes effect at ``effective_at`` or at the start of ``policy.effective``.

        Raises:
            ConfigurationError: the version string or the instant is already taken.
            ValueError: ``effective_at`` is naive.
        """
        if effective_at is None:
            effective_at = dt.datetime.combine(policy.effective, dt.time(), tzinfo=self.tz)
        require_aware(effective_at, "effective_at")
        for v in self._versions:
            if v.version == policy.version:
                raise ConfigurationError(
                    f"policy version {policy.version!r} is already in the history"
                )
            if v.effective_at == effective_at:
                raise ConfigurationError(
                    f"versions {v.version!r} and {policy.version!r} would both take effect at "
                    f"{effective_at.isoformat()}"
                )
        version = PolicyVersion(policy, effective_at)
        self._versions.append(version)
        self._versions.sort(key=lambda v: v.effective_at)
        return version

    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        """Every version, oldest first."""
        return tuple(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self) -> Iterator[PolicyVersion]:
        return iter(tuple(self._versions))

    @property
    def latest(self) -> PolicyVersion:
        """The version that takes effect last.

        Raises:
            ConfigurationError: the history is empty.
        """
        if not self._versions:
            raise ConfigurationError("the policy history is empty; add a version first")
        return self._versions[-1]

    def get(self, version: str) -> PolicyVersion:
        """The version named ``version``; ``KeyError`` with a hint if unknown."""
        for v in self._versions:
            if v.version == version:
                return v
        names = [v.version for v in self._versions]
        raise unknown_name("policy version", version, names, list_known=not closest(version, names))

    def in_force(self, at: dt.datetime) -> PolicyVersion:
        """The version in force at ``at`` (the latest one that took effect at or before it).

        Raises:
            ValueError: ``at`` is naive.
            ConfigurationError: ``at`` is before the first version took effect (or none exists).
        """
        require_aware(at, "at")
        current: PolicyVersion | None = None
        for v in self._versions:
            if v.effective_at <= at:
                current = v
            else:
                break
        if current is None:
            if not self._versions:
                raise ConfigurationError("the policy history is empty; add a version first")
            first = self._versions[0]
            raise ConfigurationError(
                f"no policy version was in force at {at.isoformat()}: the first version "
                f"({first.version!r}) took effect at {first.effective_at.isoformat()}"
            )
        return current

    def previous(self, version: str) -> PolicyVersion | None:
        """The version before ``version`` (``None`` for the first)."""
        target = self.get(version)
        index = self._versions.index(target)
        return self._versions[index - 1] if index else None

    def diff(self, old: str, new: str, *, material: Materiality = None) -> PolicyDiff:
        """:func:`diff` between two versions of this history, named by version string."""
        return diff(self.get(old).policy, self.get(new).policy, material=material)

    def changes(self, *, material: Materiality = None) -> tuple[PolicyDiff, ...]:
        """The diff between each pair of consecutive versions."""
        return tuple(
            diff(a.policy, b.policy, material=material)
            for a, b in zip(self._versions, self._versions[1:], strict=False)
        )

    def export(self, version: str, format: ExportFormat = "json") -> str:  # noqa: A002
        """One version as a JSON or YAML policy document (for "prior versions on request")."""
        return self.get(version).export(format)

    def export_all(self, format: ExportFormat = "json") -> str:  # noqa: A002
        """The whole history as one document: ``{"versions": [{version, effective_at, policy}]}``.

        Read it back with :meth:`from_export`.
        """
        data = {
            "versions": [
                {
                    "version": v.version,
                    "effective_at": v.effective_at.isoformat(),
                    "policy": v.document(),
                }
                for v in self._versions
            ]
        }
        return _dump(data, format)

    @classmethod
    def from_export(
        cls, document: str | Mapping[str, Any], *, tz: dt.tzinfo | str = dt.UTC
    ) -> PolicyHistory:
        """Rebuild a history from :meth:`export_all` output (JSON text, YAML text or a mapping).

        Raises:
            ConfigurationError: the document is not a history export.
            PolicyError: a version does not validate.
        """
        from ..model._loading import load_policy  # noqa: PLC0415 - avoids an import cycle at load

        data: Any = document
        if isinstance(document, str):
            try:
                data = orjson.loads(document)
            except orjson.JSONDecodeError:
                try:
                    import yaml  # noqa: PLC0415 - optional dependency
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    raise ConfigurationError(
                        "the document is not JSON, and PyYAML is missing"
                    ) from exc
                data = yaml.safe_load(document)
        if not isinstance(data, Mapping) or not isinstance(data.get("versions"), list):
            raise ConfigurationError("not a policy history export: expected a 'versions' list")
        history = cls(tz=tz)
        for i, item in enumerate(data["versions"]):
            if not isinstance(item, Mapping) or not {"effective_at", "policy"} <= set(item):
                raise ConfigurationError(
                    f"versions[{i}]: expected a mapping with 'effective_at' and 'policy'"
                )
            try:
                effective_at = dt.datetime.fromisoformat(str(item["effective_at"]))
            except ValueError as exc:
                raise ConfigurationError(f"versions[{i}].effective_at: {exc}") from None
            history.add(load_policy(item["policy"]), effective_at=effective_at)
        return history

    def __repr__(self) -> str:
        return f"<PolicyHistory {[v.version for v in self._versions]}>"
