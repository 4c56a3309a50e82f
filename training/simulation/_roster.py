"""Who works for the organisation: the people of each team, as data.

A :class:`Member` is what is fixed about a person before the seed draws the rest
(office days, tool versions, activity). Teams are chosen by the organisation preset
(:mod:`._presets`): the small organisation has the ``core`` team only; the large one
adds a data team and a US platform team.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["TEAMS", "Member"]


class Member(NamedTuple):
    """One person of the roster.

    ``kind`` is ``admin`` (administrators, on the on-call rotation), ``engineer``
    (changes outside production only), ``data-scientist``, ``former`` (leaves in the
    first days of the baseline, access never removed) or ``joiner`` (joins at 40 % of
    the baseline).
    """

    handle: str
    timezone: str
    country: str
    office: str
    home: str
    permission_set: str
    console_share: float
    kind: str
    os: str
    browser: str


_BERLIN, _NEW_YORK, _LONDON = "Europe/Berlin", "America/New_York", "Europe/London"
_ADMIN, _POWER, _DATA = "AdministratorAccess", "PowerUserAccess", "DataScientist"

TEAMS: Final[dict[str, tuple[Member, ...]]] = {
    "core": (
        Member("anna.weber", _BERLIN, "DE", "office-berlin", "home-de-telekom", _ADMIN, 0.6,
               "admin", "mac", "chrome"),
        Member("jonas.becker", _BERLIN, "DE", "office-berlin", "home-de-vodafone", _ADMIN, 0.2,
               "admin", "linux", "firefox"),
        Member("lena.hoffmann", _BERLIN, "DE", "office-berlin", "home-de-v6", _POWER, 0.4,
               "admin", "mac", "chrome"),
        Member("michael.okafor", _NEW_YORK, "US", "office-newyork", "home-us-comcast", _ADMIN,
               0.5, "admin", "mac", "chrome"),
        Member("sarah.kim", _NEW_YORK, "US", "office-newyork", "home-us-verizon", _POWER, 0.7,
               "admin", "windows", "chrome"),
        Member("tom.harris", _LONDON, "GB", "office-london", "home-gb-bt", _ADMIN, 0.3,
               "admin", "linux", "firefox"),
        Member("priya.natarajan", _LONDON, "GB", "office-london", "home-gb-bt", _DATA, 0.3,
               "data-scientist", "mac", "chrome"),
        Member("markus.schulz", _BERLIN, "DE", "office-berlin", "home-de-telekom", _ADMIN, 0.4,
               "former", "windows", "chrome"),
        Member("felix.wagner", _BERLIN, "DE", "office-berlin", "home-de-vodafone", _POWER, 0.5,
               "joiner", "mac", "chrome"),
    ),
    "data": (
        Member("ines.moreau", _BERLIN, "DE", "office-berlin", "home-de-telekom", _DATA, 0.3,
               "data-scientist", "linux", "firefox"),
        Member("raj.patel", _LONDON, "GB", "office-london", "home-gb-bt", _DATA, 0.4,
               "data-scientist", "mac", "chrome"),
        Member("olga.ivanova", _BERLIN, "DE", "office-berlin", "mobile-de", _POWER, 0.5,
               "engineer", "linux", "chrome"),
    ),
    "us-platform": (
        Member("emily.chen", _NEW_YORK, "US", "office-newyork", "home-us-comcast", _ADMIN, 0.4,
               "admin", "mac", "chrome"),
        Member("david.miller", _NEW_YORK, "US", "office-newyork", "home-us-verizon", _POWER,
               0.6, "engineer", "windows", "chrome"),
    ),
}  # fmt: skip
"""The roster of each team, by team name."""
