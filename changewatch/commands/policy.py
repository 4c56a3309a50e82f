"""``changewatch policy suggest``: a change policy mined from history, for review."""

from __future__ import annotations

import click

from changewatch.cli_support import PathsOption, emit

__all__ = ["policy"]


@click.group()
def policy() -> None:
    """Change policies: suggest one from history."""


@policy.command("suggest")
@click.option(
    "--events",
    "-e",
    "events",
    cls=PathsOption,
    required=True,
    metavar="PATH...",
    help="History: CloudTrail files/directories or canonical Parquet tables (weeks of it).",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Suggested policy YAML (loads with --windows as it is; review it first).",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="The organisation's zone: windows are mined and written in its local hours.",
)
@click.option(
    "--min-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Share of an identity's changes a window must cover to be suggested.",
)
def suggest(events: tuple[str, ...], out: str, timezone: str, min_share: float) -> None:
    """Suggest windows, automation entries and the organisation's accounts from history.

    Windows: per identity group (a role across accounts) and account, the weekdays and
    hours its changes recur in (an RRULE with its confidence and the changes it
    covers). Automation: roles active on most days, with their clients and networks.
    Every entry carries a comment with the evidence it rests on (docs/change-windows.md).

    \b
    Example:
      changewatch policy suggest --events last-90d.parquet --timezone Europe/Berlin \\
          --out suggested.yaml
      changewatch score --model none --events today.parquet --windows suggested.yaml --out -
    """
    from models.scoring import (
        SuggestSettings,
        load_events,
        load_policy,
        suggest_policy,
        suggestion_yaml,
    )

    loaded = load_events(events)
    suggestion = suggest_policy(
        loaded.events, SuggestSettings(timezone=timezone, min_share=min_share)
    )
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(suggestion_yaml(suggestion))
    load_policy(out)  # what was written must load as it is
    emit(
        {
            "events": len(loaded.events),
            "windows": len(suggestion.windows),
            "automation": len(suggestion.automation),
            "accounts": len(suggestion.accounts),
            "out": out,
        }
    )
