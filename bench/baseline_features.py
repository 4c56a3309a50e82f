"""Baseline: the feature catalogue written the straightforward pandas way.

``df.groupby("identity_key").apply(per_identity)``, and inside each identity a loop over
its windows keeping the history in dicts and sets, one event at a time. It computes the
same columns as :func:`features.behaviour_vectors` in batch mode (no profiles); the
benchmark times it, and a test uses it as an independent reference on small tables.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from features import FEATURE_NAMES, KEY_COLUMNS, VECTOR_SCHEMA_VERSION, FeatureConfig
from features._catalogue import CHANGE_ACTIONS, CHANGE_RESOURCE_TYPES, NOVELTY_DIMENSIONS

DAY = pd.Timedelta(days=1)
CONTEXT = {"region", "network", "country", "asn", "client_family", "client_version"}
ACCOUNT = re.compile(r"^\d{12}$")


def _bucket(n: int) -> int:
    return 0 if n == 0 else min(math.floor(math.log2(n)) + 1, 20)


def _value(row: Any, dimension: str) -> Any:
    if dimension == "client_version":
        v = row["client_version"]
        return None if pd.isna(v) else f"{row['client_family']}/{v}"
    v = row[dimension]
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _ids(row: Any, prefix: str) -> list[str]:
    return [x for x in row["resource_ids"] if str(x).startswith(prefix)]


def baseline_vectors(events: pd.DataFrame, config: FeatureConfig | None = None) -> pd.DataFrame:
    """Vectors of ``events`` (batch mode) the slow, obvious way."""
    config = config or FeatureConfig()
    df = events.copy()
    df["event_time"] = pd.to_datetime(df["event_time"], utc=True).astype("datetime64[ns, UTC]")
    window = pd.Timedelta(config.window)
    df["window"] = df["event_time"].dt.floor(window)
    df = df.sort_values(["identity_key", "event_time"], kind="stable")
    first_use = df.groupby(["event_name", "identity_key"])["event_time"].min().reset_index()
    identity_first = df.groupby("identity_key")["event_time"].min()
    result = df.groupby("identity_key", group_keys=False).apply(
        lambda g: _per_identity(g.assign(identity_key=g.name), config, first_use, identity_first)
    )
    return result.reset_index(drop=True)


def _per_identity(
    g: pd.DataFrame, config: FeatureConfig, first_use: pd.DataFrame, identity_first: pd.Series
) -> pd.DataFrame:
    window = pd.Timedelta(config.window)
    horizon = pd.Timedelta(config.horizon)
    forget = pd.Timedelta(days=config.forget_days)
    g = g.reset_index(drop=True)
    last_use: dict[str, dict[Any, pd.Timestamp]] = {d: {} for _, d in NOVELTY_DIMENSIONS}
    counts: dict[str, Counter[Any]] = {d: Counter() for _, d in NOVELTY_DIMENSIONS}
    last_time = None
    epoch_start = None
    epoch_events = 0
    days: set[Any] = set()
    hours: Counter[int] = Counter()
    window_changes: list[int] = []
    out = []
    ok = g["error_code"].isna()
    for w, rows in g.groupby("window", sort=True):
        f: dict[str, Any] = {
            "identity_key": rows["identity_key"].iloc[0],
            "window_start": w,
            "window_end": w + window,
            "schema_version": VECTOR_SCHEMA_VERSION,
        }
        n = len(rows)
        change = rows["is_compute_change"].astype(bool)
        f["n_events"] = n
        f["n_changes"] = int(change.sum())
        for a in CHANGE_ACTIONS:
            f[f"n_change_{a}"] = int((change & (rows["action"] == a)).sum())
        for r in CHANGE_RESOURCE_TYPES:
            f[f"n_change_{r}"] = int((change & (rows["resource_type"] == r)).sum())
        other = rows["resource_type"].notna() & ~rows["resource_type"].isin(CHANGE_RESOURCE_TYPES)
        f["n_change_other_resource"] = int((change & other).sum())
        resources = {x for ids in rows.loc[change, "resource_ids"] for x in ids}
        f["n_distinct_resources"] = len(resources)
        f["n_distinct_regions"] = rows["region"].nunique()
        f["n_distinct_networks"] = rows["network"].nunique()
        f["n_distinct_clients"] = len(
            set(zip(rows["client_family"], rows["client_version"].fillna("\0"), strict=True))
        )
        f["error_ratio"] = rows["error_code"].notna().mean()
        # identity history
        broke = last_time is None or last_time < w - forget
        f["is_new_identity"] = float(last_time is None)
        f["days_dormant"] = 0.0 if last_time is None else (w - last_time) / DAY
        if broke:
            epoch_start = rows["event_time"].iloc[0]
            epoch_events = 0
            days = set()
            hours = Counter()
            window_changes = []
        f["history_days"] = max((w - epoch_start) / DAY, 0.0)
        f["active_days"] = len(days)
        f["cold_start"] = float(
            f["history_days"] < config.cold_start_days or len(days) < config.cold_start_active_days
        )
        # novelty
        rare_context = np.zeros(n, dtype=bool)
        for stem, dim in NOVELTY_DIMENSIONS:
            novel = 0
            for i, (_, row) in enumerate(rows.iterrows()):
                v = _value(row, dim)
                if v is None:
                    continue
                known = v in last_use[dim] and last_use[dim][v] >= w - forget
                count = counts[dim][v] if known else 0
                novel += not known
                if dim in CONTEXT and (
                    not known or count < config.rare_share * max(epoch_events, 1)
                ):
                    rare_context[i] = True
            f[f"novel_{stem}_share"] = novel / n
        f["rare_context_share"] = rare_context.mean()
        # rhythm
        how = ((rows["event_time"].dt.day_of_week * 24) + rows["event_time"].dt.hour).tolist()
        rare = sum(hours[h] < config.rare_hour_fraction * epoch_events / 168 for h in how)
        f["rare_hour_share"] = rare / n
        f["hour_surprise"] = sum(-math.log2((hours[h] + 1) / (epoch_events + 168)) for h in how) / n
        mean = sum(window_changes) / len(window_changes) if window_changes else 0.0
        f["change_count_ratio"] = (f["n_changes"] + 1) / (mean + 1)
        b = _bucket(f["n_changes"])
        f["change_count_tail"] = (
            sum(_bucket(c) >= b for c in window_changes) / len(window_changes)
            if window_changes
            else 1.0
        )
        # sequences
        f.update(_sequences(g, ok, rows, w, window, horizon, config))
        # organisation
        total = int((identity_first < w).sum())
        rare_org, rarity = 0, []
        for name in rows["event_name"]:
            users = int((first_use.loc[first_use["event_name"] == name, "event_time"] < w).sum())
            rare_org += users < config.org_rare_identities
            rarity.append(-math.log2((users + 1) / (total + 1)))
        f["org_rare_action_share"] = rare_org / n
        f["org_action_rarity_max"] = max(rarity)
        out.append(f)
        # fold the window into the history
        for _, dim in NOVELTY_DIMENSIONS:
            for _, row in rows.iterrows():
                v = _value(row, dim)
                if v is None:
                    continue
                if not (v in last_use[dim] and last_use[dim][v] >= w - forget):
                    counts[dim][v] = 0
                    last_use[dim][v] = row["event_time"]  # marks the new epoch as started
                counts[dim][v] += 1
                last_use[dim][v] = max(last_use[dim][v], row["event_time"])
        epoch_events += n
        days |= set(rows["event_time"].dt.floor("D"))
        hours.update(how)
        window_changes.append(f["n_changes"])
        last_time = rows["event_time"].iloc[-1]
    frame = pd.DataFrame(out, columns=list(KEY_COLUMNS + FEATURE_NAMES))
    for name in FEATURE_NAMES:
        frame[name] = frame[name].astype(float)
    return frame


def _sequences(
    g: pd.DataFrame,
    ok: pd.Series,
    rows: pd.DataFrame,
    w: pd.Timestamp,
    window: pd.Timedelta,
    horizon: pd.Timedelta,
    config: FeatureConfig,
) -> dict[str, float]:
    def steps(names: tuple[str, ...], t: pd.Timestamp, lo: pd.Timestamp) -> pd.DataFrame:
        m = ok & g["event_name"].isin(names) & (g["event_time"] <= t) & (g["event_time"] >= lo)
        return g[m]

    partial = full = sms = foreign = public = 0
    for idx, row in rows.iterrows():
        if not ok[idx]:
            continue
        t = row["event_time"]
        name = row["event_name"]
        if name == "AttachVolume":
            vols, insts = set(_ids(row, "vol-")), set(_ids(row, "i-"))
            launched = {
                i
                for _, r in steps(("RunInstances",), t, t - horizon).iterrows()
                for i in _ids(r, "i-")
            }
            chain = False
            full_chain = False
            for _, cv in steps(("CreateVolume",), t, t - horizon).iterrows():
                if not (vols & set(_ids(cv, "vol-"))) or not (insts & launched):
                    continue
                chain = True
                snaps = set(_ids(cv, "snap-"))
                made = steps(
                    ("CreateSnapshot", "CreateSnapshots", "CopySnapshot"),
                    cv["event_time"],
                    t - horizon,
                )
                if any(snaps & set(_ids(r, "snap-")) for _, r in made.iterrows()):
                    full_chain = True
            partial += chain
            full += full_chain
        if name == "StartInstances":
            insts = set(_ids(row, "i-"))
            found = False
            for _, mod in steps(("ModifyInstanceAttribute",), t, t - horizon).iterrows():
                if mod["attribute"] not in ("userData", "instanceType"):
                    continue
                both = insts & set(_ids(mod, "i-"))
                stops = steps(("StopInstances",), mod["event_time"], t - horizon)
                if both and any(both & set(_ids(s, "i-")) for _, s in stops.iterrows()):
                    found = True
            sms += found
        if row["action"] == "share" and row["resource_type"] in ("snapshot", "image"):
            targets = [str(x) for x in row["share_targets"] if x is not None]
            public += "all" in targets
            foreign += any(
                ACCOUNT.match(x) and x != str(row["account_id"]) and x not in config.org_accounts
                for x in targets
            )
    end = w + window
    snap = g[
        ok
        & (g["resource_type"] == "snapshot")
        & g["action"].isin(("create", "copy"))
        & (g["event_time"] < end)
        & (g["event_time"] >= end - horizon)
    ]
    return {
        "seq_snapshot_volume_attach": partial,
        "seq_own_snapshot_volume_attach": full,
        "share_foreign": foreign,
        "share_public": public,
        "seq_stop_modify_start": sms,
        "snapshots_in_horizon": len(snap),
    }
