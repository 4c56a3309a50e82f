"""Findings on Spark: the scoring core run per group of identities.

``changewatch score --engine spark`` gives the findings ``changewatch score`` gives on one
machine, through the same function, :func:`models.scoring.score_events`: each group of
identities (a hash bucket, so an identity's events are always in one group, with every
rule horizon) is scored by the rules, the model's windows and the combiner. What crosses
identities is computed once for the organisation and shipped to every group:

* the organisation's first use of each action (the only cross-identity input of the
  vectors, ADR 0008), over the events and the model's recent training events;
* the snapshot-chain steps (``features.CHAIN_STEP_DONE``, evaluated as a Spark column): the
  chain rule follows a snapshot through several identities, so each group sees the steps
  of the others as *context* (rules follow chains through them, findings cite them; their
  identities are scored in their own group);
* the people's calls (``features.PERSON_CALL``) from the addresses instance-profile
  sessions called from: ``Credentials.InstanceSessionElsewhere`` judges an instance's
  session by the people calling from its address.

What the driver resolves once is shipped too, so no group judges by its executor's
environment: the policy, the judging moment and AWS's IP ranges (the snapshot
``features.default_ranges`` finds on the driver; an executor's data folder is not the
user's).

ADR 0033 records the design; ``tests/spark/test_spark_findings.py`` compares the findings
with the single-machine ones, finding by finding.
"""

# ruff: noqa: PLC0415 - pyspark is optional: imported where it is used

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from features import (
    CANONICAL_COLUMNS,
    CHAIN_STEP_DONE,
    INSTANCE_CALL,
    PERSON_CALL,
    InputError,
    default_ranges,
)
from models.scoring import (
    DetectorScorer,
    Finding,
    ModelWindows,
    Policy,
    PolicyFile,
    Scorer,
    score_events,
    severity_rank,
    to_ocsf,
)
from training.spark._features import bucket_count, org_first_use, to_canonical_pandas

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["FINDING_ROWS", "spark_findings"]

logger = logging.getLogger(__name__)

FINDING_ROWS: Final = (
    "line string, severity string, events long, hits long, windows long, suppressed long, "
    "below long, failed string"
)
"""One row per finding (``line``: its JSON, or OCSF) and one per group with its counts
(``below``: findings left out for their severity)."""

_BUCKET: Final = "_cw_bucket"


def _lines(findings: Sequence[Finding], output: str, floor: int) -> list[tuple[str, str]]:
    kept = [f for f in findings if severity_rank(f.severity) >= floor]
    if output == "ocsf":
        import json

        return [(json.dumps(to_ocsf(f), separators=(",", ":")), str(f.severity)) for f in kept]
    return [(f.model_dump_json(), str(f.severity)) for f in kept]


def _group_scorer(
    scorer: DetectorScorer, org: pd.DataFrame
) -> Callable[[pd.DataFrame], ModelWindows]:
    """Return the model's windows of a group: its identities' state, the org's first uses."""

    def windows(events: pd.DataFrame) -> ModelWindows:
        identities = sorted(set(events["identity_key"].astype(str)))
        state = scorer.state_of(identities)
        return ModelWindows(scorer.score_with_state(events, state, org_first_use=org))

    return windows


def _score_group(
    shipped: Callable[[], tuple[Any, ...]], zone: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return what each group runs: canonical dtypes in, the scoring core, finding rows out."""
    built: dict[str, Policy | None] = {}

    def run(group: pd.DataFrame) -> pd.DataFrame:
        scorer, files, org, steps, now, ranges, output, floor = shipped()
        bucket = int(group[_BUCKET].iloc[0])
        events = to_canonical_pandas(group.drop(columns=[_BUCKET]), zone)
        context = steps[steps[_BUCKET] != bucket].drop(columns=[_BUCKET])
        if "policy" not in built:  # once per Python worker
            built["policy"] = Policy.from_files(files) if files else None
        model = _group_scorer(scorer, org) if scorer is not None else None
        result = score_events(
            events,
            built["policy"],
            scorer,
            None,
            now=now,
            context=context.reset_index(drop=True),
            windows=(lambda _hits: model(events)) if model is not None else None,
            aws_ranges=ranges,
        )
        lines = _lines(result.findings, output, floor)
        stats = {
            "line": [None],
            "severity": [None],
            "events": [result.events],
            "hits": [len(result.hits)],
            "windows": [len(result.windows)],
            "suppressed": [len(result.suppressed)],
            "below": [len(result.findings) - len(lines)],
            "failed": [",".join(sorted(rule for rule, _ in result.failed)) or None],
        }
        rows = pd.DataFrame(
            {
                "line": [line for line, _ in lines],
                "severity": [severity for _, severity in lines],
                "events": 0,
                "hits": 0,
                "windows": 0,
                "suppressed": 0,
                "below": 0,
                "failed": None,
            }
        )
        counts = ("events", "hits", "windows", "suppressed", "below")
        return pd.concat([rows, pd.DataFrame(stats)], ignore_index=True).astype(
            dict.fromkeys(counts, "int64")
        )

    return run


def _shipped_context(keyed: DataFrame, F: Any) -> DataFrame:  # noqa: N803 (Spark's name)
    """Return the rows every group sees beside its own: what rules read across identities.

    The snapshot-chain steps (the chain rule follows a snapshot through identities) and
    the people's calls from an address an instance profile's session called from
    (``Credentials.InstanceSessionElsewhere`` names the people who call from it).
    """
    addresses = keyed.where(INSTANCE_CALL.spark(F)).select("source_ip").distinct()
    people = keyed.where(PERSON_CALL.spark(F) & ~CHAIN_STEP_DONE.spark(F))
    steps = keyed.where(CHAIN_STEP_DONE.spark(F))
    return steps.unionByName(people.join(addresses, "source_ip", "left_semi"))


def spark_findings(
    events: DataFrame,
    scorer: Scorer | None,
    policy: Sequence[PolicyFile] = (),
    *,
    buckets: int | None = None,
    now: datetime | None = None,
    output: str = "json",
    min_severity: str = "info",
) -> DataFrame:
    """Score canonical events on Spark into findings, as :func:`models.scoring.score_events`.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        Canonical events (:func:`read_events_spark`).
    scorer : DetectorScorer or None
        The model (``models.scoring.load_scorer``); ``None`` scores with the rules only.
    policy : sequence of PolicyFile
        The change policy's files, resolved (``read_yaml_model(PolicyFile, path).resolved()``).
    buckets : int, optional
        Identity groups; by default as :func:`spark_vectors` chooses them.
    now : datetime, optional
        When suppressions are judged to have expired (default: the driver's clock now,
        the same for every group).
    output : {"json", "ocsf"}
        The lines' format: our finding schema or OCSF 1.1.0 Detection Finding.
    min_severity : str
        Findings below it are left out.

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`FINDING_ROWS`: one row per finding (``line`` set) and one per group (its
        counts, ``line`` null).

    Raises
    ------
    InputError
        When a canonical column is missing.
    """
    from datetime import UTC

    from pyspark.sql import functions as F  # noqa: N812

    if scorer is not None and not isinstance(scorer, DetectorScorer):
        raise InputError(f"Spark scores with a model bundle's scorer, got {type(scorer).__name__}")
    missing = [name for name in CANONICAL_COLUMNS if name not in events.columns]
    if missing:
        raise InputError(f"canonical event table lacks columns {missing}")
    spark = events.sparkSession
    zone = spark.conf.get("spark.sql.session.timeZone") or "UTC"
    selected = events.select(*CANONICAL_COLUMNS)
    if buckets is None:
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
        buckets = bucket_count(selected.count(), partitions, 500_000)
    keyed = selected.withColumn(_BUCKET, F.pmod(F.xxhash64("identity_key"), F.lit(buckets)))
    org = org_first_use(selected, scorer.detector.recent_ if scorer is not None else None)
    steps = _shipped_context(keyed, F).toPandas()
    steps = pd.concat(
        [to_canonical_pandas(steps.drop(columns=[_BUCKET]), zone), steps[[_BUCKET]]], axis=1
    )
    logger.info(
        "findings on Spark: %d identity groups, %d first uses and %d chain steps shipped",
        buckets,
        len(org),
        len(steps),
    )
    moment = now or datetime.now(UTC)
    floor = severity_rank(min_severity)
    ranges = default_ranges()  # the driver's snapshot, not each executor's (ADR 0052)
    payload = (scorer, tuple(policy), org, steps, moment, ranges, output, floor)
    handle = spark.sparkContext.broadcast(payload)
    run = _score_group(lambda: handle.value, zone)
    return keyed.groupBy(_BUCKET).applyInPandas(run, schema=FINDING_ROWS)
