"""Per-customer retention overrides: the duration each account chose, within the policy's range.

:class:`RetentionSettings` holds those choices (in memory, in a JSON file written atomically, or
in a :class:`~privacy_kit.audit.StateStore` every process shares) and refuses anything outside the range the rule allows (:func:`check_override`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from .._errors import ConfigurationError
from .._types import Duration
from ..audit._state import StateStore
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ._holds import write_json_atomically

__all__ = ["RetentionSettings", "check_override"]

OVERRIDES = "retention.overrides"
"""The state store collection of the overrides (key: ``rule|account``, the account as JSON)."""


# == per-customer overrides =========================================================================
def check_override(rule: RetentionRule, value: Duration) -> Duration:
    """``value`` if ``rule`` lets a customer choose it; else ``ConfigurationError`` naming all three.

    Example:
        >>> import privacy_kit as pk
        >>> rule = pk.load_policy(pk.example_path()).rule("booking_data")
        >>> check_override(rule, Duration.parse("P30D"))
        Duration(years=0, months=0, weeks=0, days=30, hours=0, minutes=0, seconds=0)
    """
    if rule.override is None:
        raise ConfigurationError(
            f"retention rule {rule.key!r} cannot be overridden (the policy sets no override "
            f"range); refused {value}"
        )
    low, high = rule.override.minimum, rule.override.maximum
    if value < low or value > high:
        raise ConfigurationError(
            f"retention rule {rule.key!r}: {value} ({value.describe()}) is outside the range "
            f"the policy allows, {low} ({low.describe()}) to {high} ({high.describe()})"
        )
    return value


def _check_account_key(account: Any) -> Any:
    if isinstance(account, bool) or not isinstance(account, int | str):
        raise ConfigurationError(
            f"an account key must be an integer or a string, got {type(account).__name__}"
        )
    return account


class RetentionSettings:
    """Per-customer retention choices: for an account, a duration per rule, within the policy's range.

    Args:
        policy: the policy whose rules' ``override`` ranges the choices must respect.
        path: a JSON file to keep the choices in (read now if it exists, rewritten atomically on
            every change); ``None`` keeps them in memory, per instance.
        state: a :class:`~privacy_kit.audit.StateStore` to keep them in instead (collection
            ``retention.overrides``, one document per rule and account): every process sharing
            the store plans with the same choices.

    Raises:
        ConfigurationError: the file is malformed or holds a choice the policy refuses, or both
            a path and a state store are given.

    Example:
        >>> import privacy_kit as pk
        >>> settings = RetentionSettings(pk.load_policy(pk.example_path()))
        >>> settings.set(7, "booking_data", "30 days")
        >>> settings.get(7, "booking_data")
        Duration(years=0, months=0, weeks=0, days=30, hours=0, minutes=0, seconds=0)
        >>> settings.set(7, "booking_data", "P20Y")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: retention rule 'booking_data': P20Y (20 years) is outside the range the policy allows, P1D (1 day) to P10Y (10 years)
        >>> settings.set(7, "payment_data", "P1Y")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: retention rule 'payment_data' cannot be overridden (the policy sets no override range); refused P1Y
    """

    def __init__(
        self,
        policy: Policy,
        path: str | os.PathLike[str] | None = None,
        *,
        state: StateStore | None = None,
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError(
                "RetentionSettings keeps its choices in a file or a state store"
            )
        self.policy = policy
        self.path = Path(path) if path is not None else None
        self.state = state
        self._values: dict[str, dict[Any, Duration]] = {}
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
            items = [(i["account"], i["rule"], i["duration"]) for i in data["overrides"]]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}: not a retention settings file ({type(exc).__name__}: {exc})"
            ) from exc
        for account, rule, duration in items:
            try:
                self._put(account, rule, duration)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{path}: {exc}") from exc

    def _save(self) -> None:
        if self.path is None:
            return
        items = [
            {"account": account, "rule": rule, "duration": str(duration)}
            for rule, by_account in sorted(self._values.items())
            for account, duration in by_account.items()
        ]
        write_json_atomically(self.path, {"version": 1, "overrides": items})

    def validate(self, rule_key: str, duration: Duration | str) -> Duration:
        """``duration`` as a :class:`Duration` if ``rule_key`` allows it; else raise.

        Raises:
            ConfigurationError: unknown rule, a rule without an override range, an unreadable
                duration, or a duration outside the range (the message names all three).
        """
        try:
            rule = self.policy.rule(rule_key)
        except KeyError as exc:
            raise ConfigurationError(str(exc.args[0])) from None
        try:
            value = Duration.parse(duration)
        except ValueError as exc:
            raise ConfigurationError(f"retention rule {rule_key!r}: {exc}") from None
        return check_override(rule, value)

    def _put(self, account: Any, rule_key: str, duration: Duration | str) -> None:
        value = self.validate(rule_key, duration)
        self._values.setdefault(rule_key, {})[_check_account_key(account)] = value

    @classmethod
    def shared(cls, policy: Policy, state: StateStore) -> RetentionSettings:
        """The choices kept in ``state``, the same in every process that shares it.

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.audit import MemoryStateStore
            >>> policy, store = pk.load_policy(pk.example_path()), MemoryStateStore()
            >>> RetentionSettings.shared(policy, store).set(7, "booking_data", "P30D")
            >>> str(RetentionSettings.shared(policy, store).get(7, "booking_data"))
            'P30D'
        """
        return cls(policy, state=state)

    def set(self, account: Any, rule_key: str, duration: Duration | str) -> None:
        """Record that ``account`` keeps ``rule_key``'s data for ``duration`` (validated)."""
        if self.state is None:
            self._put(account, rule_key, duration)
            self._save()
            return
        value = self.validate(rule_key, duration)
        document = {
            "rule": rule_key,
            "account": _check_account_key(account),
            "duration": str(value),
        }
        self.state.put(OVERRIDES, _key(rule_key, account), document)

    def clear(self, account: Any, rule_key: str | None = None) -> None:
        """Remove ``account``'s choice for ``rule_key`` (every rule if ``None``): the default applies."""
        if self.state is not None:
            for rule, found, _value in self._stored(
                self.state, None if rule_key is None else rule_key + "|"
            ):
                if found == account and type(found) is type(account):
                    self.state.delete(OVERRIDES, _key(rule, found))
            return
        for key, by_account in self._values.items():
            if rule_key is None or key == rule_key:
                by_account.pop(account, None)
        self._save()

    def get(self, account: Any, rule_key: str) -> Duration | None:
        """``account``'s duration for ``rule_key``, or ``None`` (the policy's default applies)."""
        if self.state is None:
            return self._values.get(rule_key, {}).get(account)
        stored = self.state.get(OVERRIDES, _key(rule_key, _check_account_key(account)))
        return None if stored is None else self._duration(stored.key, stored.document)[2]

    def overrides(self, rule_key: str) -> dict[Any, Duration]:
        """Every account's choice for ``rule_key``, re-validated against the policy."""
        if self.state is not None:
            found = {
                account: value for _r, account, value in self._stored(self.state, rule_key + "|")
            }
        else:
            found = dict(self._values.get(rule_key, {}))
        for value in set(found.values()):
            self.validate(rule_key, value)
        return found

    def _stored(self, state: StateStore, prefix: str | None) -> list[tuple[str, Any, Duration]]:
        return [
            self._duration(d.key, d.document) for d in state.items(OVERRIDES, prefix=prefix or "")
        ]

    @staticmethod
    def _duration(key: str, data: dict[str, Any]) -> tuple[str, Any, Duration]:
        try:
            return (
                str(data["rule"]),
                _check_account_key(data["account"]),
                Duration.parse(data["duration"]),
            )
        except (ConfigurationError, KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"state store {OVERRIDES}/{key!r}: not a retention override ({exc})"
            ) from exc

    def __len__(self) -> int:
        if self.state is not None:
            return len(self.state.items(OVERRIDES))
        return sum(len(v) for v in self._values.values())

    def __repr__(self) -> str:
        where = f" state={self.state!r}" if self.state is not None else ""
        return f"<RetentionSettings overrides={len(self)}{where}>"


def _key(rule_key: str, account: Any) -> str:
    """The store key of one override: the rule and the account as JSON (``7`` and ``"7"`` differ)."""
    return f"{rule_key}|{orjson.dumps(account).decode()}"
