"""The statutory breach duties as cited data: :data:`BREACH_RULES` holds one :class:`BreachRule`
per duty of each regime (GDPR, UK GDPR, LGPD, PIPEDA, California), each with its audience, its
condition, how its deadline is counted, its :class:`Exemption` grounds and its citation, which
:func:`~privacy_kit.assess` applies to an incident."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

from .._types import Duration

__all__ = ["BREACH_RULES", "BreachRule", "Exemption"]


Audience = Literal["authority", "subjects", "public", "records"]
Condition = Literal["always", "risk", "high_risk", "significant_harm", "over_500"]
Timing = Literal[
    "elapsed", "business_days", "calendar", "undue_delay", "as_soon_as_feasible",
    "most_expedient", "document", "keep",
]  # fmt: skip
ExemptionFlag = Literal["encrypted", "risk_no_longer_likely", "disproportionate_effort"]


@attrs.frozen
class Exemption:
    """A ground on which a duty does not apply, with its citation.

    Attributes:
        flag: the incident flag that triggers it.
        citation: where it comes from.
        reason: why the duty does not apply.
        instead: the audience told instead (e.g. ``public`` for a public communication).
    """

    flag: ExemptionFlag
    citation: str
    reason: str
    instead: Audience | None = None


@attrs.frozen
class BreachRule:
    """One duty of one regime, as cited data.

    Attributes:
        key: a stable identifier, e.g. ``gdpr.authority``.
        regime: the jurisdiction key whose subjects trigger the rule.
        to: who must be told (``authority``, ``subjects``, ``public``) or ``records`` to keep.
        description: what must be done.
        condition: when the duty arises (``always``; ``risk``: medium or high; ``high_risk``;
            ``significant_harm``; ``over_500``: more than 500 people in the regime).
        timing: how the deadline is counted (``elapsed`` hours from awareness, ``business_days``,
            ``calendar`` days, or ``undue_delay`` / ``as_soon_as_feasible`` / ``most_expedient``
            with no fixed deadline, ``document`` with none, ``keep`` records for ``within``).
        within: the duration, for ``elapsed``, ``calendar`` and ``keep``.
        business_days: the number of business days, for ``business_days``.
        citation: the article or instrument.
        late: what lateness entails, shown when ``now`` is past the deadline.
        exemptions: grounds on which the duty does not apply.
        to_check: the figure was not confirmed against a primary source.
        note: anything else worth knowing.
        from_date: the rule applies to incidents the controller became aware of on or after this date.
        until_date: ... and before this date.
    """

    key: str
    regime: str
    to: Audience
    description: str
    condition: Condition
    timing: Timing
    citation: str
    within: Duration | None = None
    business_days: int | None = None
    late: str | None = None
    exemptions: tuple[Exemption, ...] = ()
    to_check: bool = False
    note: str | None = None
    from_date: dt.date | None = None
    until_date: dt.date | None = None

    def in_force(self, on: dt.date) -> bool:
        """Whether the rule applies to an incident the controller became aware of ``on``."""
        return (self.from_date is None or on >= self.from_date) and (
            self.until_date is None or on < self.until_date
        )


def _gdpr_like(prefix: str, regime: str, authority: str) -> tuple[BreachRule, ...]:
    return (
        BreachRule(
            key=f"{regime}.authority",
            regime=regime,
            to="authority",
            description=f"notify {authority}",
            condition="risk",
            timing="elapsed",
            within=Duration(hours=72),
            citation=f"{prefix} Art. 33(1)",
            late=f"late: the notification must give the reasons for the delay ({prefix} Art. 33(1))",
            note="information may be provided in phases (Art. 33(4))",
        ),
        BreachRule(
            key=f"{regime}.documentation",
            regime=regime,
            to="records",
            description="document the breach: facts, effects and remedial action",
            condition="always",
            timing="document",
            citation=f"{prefix} Art. 33(5)",
        ),
        BreachRule(
            key=f"{regime}.subjects",
            regime=regime,
            to="subjects",
            description="tell the people affected",
            condition="high_risk",
            timing="undue_delay",
            citation=f"{prefix} Art. 34(1)",
            exemptions=(
                Exemption(
                    "encrypted",
                    f"{prefix} Art. 34(3)(a)",
                    "the data was unintelligible to anyone not authorised (e.g. encrypted)",
                ),
                Exemption(
                    "risk_no_longer_likely",
                    f"{prefix} Art. 34(3)(b)",
                    "measures taken since ensure the high risk is no longer likely to materialise",
                ),
                Exemption(
                    "disproportionate_effort",
                    f"{prefix} Art. 34(3)(c)",
                    "telling each person would involve disproportionate effort: a public "
                    "communication is required instead",
                    instead="public",
                ),
            ),
        ),
    )


_CA_ENCRYPTED = Exemption(
    "encrypted",
    "Cal. Civ. Code 1798.82(a)",
    "the section covers unencrypted personal information (or encrypted data whose key was also "
    "acquired)",
)

BREACH_RULES: tuple[BreachRule, ...] = (
    *_gdpr_like("GDPR", "gdpr", "the lead supervisory authority"),
    *_gdpr_like("UK GDPR", "uk_gdpr", "the Information Commissioner's Office (ICO)"),
    BreachRule(
        key="lgpd.authority",
        regime="lgpd",
        to="authority",
        description="notify the ANPD",
        condition="risk",
        timing="business_days",
        business_days=3,
        citation="LGPD Art. 48; ANPD Resolution CD/ANPD 15/2024",
        to_check=True,
        note="3 business days from awareness per ANPD Resolution CD/ANPD 15/2024 (to be checked "
        "against the official text); national holidays are not counted if passed to assess()",
    ),
    BreachRule(
        key="lgpd.subjects",
        regime="lgpd",
        to="subjects",
        description="tell the people affected",
        condition="risk",
        timing="business_days",
        business_days=3,
        citation="LGPD Art. 48; ANPD Resolution CD/ANPD 15/2024",
        to_check=True,
        note="same deadline as the ANPD notification (to be checked)",
    ),
    BreachRule(
        key="pipeda.authority",
        regime="pipeda",
        to="authority",
        description="report to the Privacy Commissioner of Canada",
        condition="significant_harm",
        timing="as_soon_as_feasible",
        citation="PIPEDA s. 10.1(1)",
        note="where there is a real risk of significant harm",
    ),
    BreachRule(
        key="pipeda.subjects",
        regime="pipeda",
        to="subjects",
        description="notify the individuals affected",
        condition="significant_harm",
        timing="as_soon_as_feasible",
        citation="PIPEDA s. 10.1(3)",
    ),
    BreachRule(
        key="pipeda.records",
        regime="pipeda",
        to="records",
        description="keep a record of the breach for 24 months",
        condition="always",
        timing="keep",
        within=Duration(months=24),
        citation="PIPEDA s. 10.3",
        note="every breach of security safeguards is recorded, whatever the risk",
    ),
    BreachRule(
        key="ccpa.residents",
        regime="ccpa",
        to="subjects",
        description="notify the California residents affected",
        condition="always",
        timing="most_expedient",
        citation="Cal. Civ. Code 1798.82(a)",
        exemptions=(_CA_ENCRYPTED,),
        until_date=dt.date(2026, 1, 1),
        note="in the most expedient time possible and without unreasonable delay",
    ),
    BreachRule(
        key="ccpa.residents",
        regime="ccpa",
        to="subjects",
        description="notify the California residents affected",
        condition="always",
        timing="calendar",
        within=Duration(days=30),
        citation="Cal. Civ. Code 1798.82(a)",
        exemptions=(_CA_ENCRYPTED,),
        to_check=True,
        from_date=dt.date(2026, 1, 1),
        note="in the most expedient time possible; the 30-day outer limit applying from 2026 is "
        "to be checked",
    ),
    BreachRule(
        key="ccpa.attorney_general",
        regime="ccpa",
        to="authority",
        description="send a sample copy of the residents' notice to the California Attorney General",
        condition="over_500",
        timing="most_expedient",
        citation="Cal. Civ. Code 1798.82(f)",
        exemptions=(_CA_ENCRYPTED,),
        note="when more than 500 California residents are notified",
    ),
)
"""Every statutory breach duty privacy_kit computes, one row per duty, each with its citation."""
