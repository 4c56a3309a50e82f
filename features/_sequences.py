"""Sequence features: multi-step compute changes by one identity inside a horizon.

Only successful calls (no ``error_code``) take part. The steps are matched on the EC2
ids of ``resource_ids`` (the id prefix tells the role: for ``CreateVolume`` the ``vol-``
is the new volume and the ``snap-`` its source; for ``AttachVolume`` the ``vol-`` and
the ``i-``). The few events involved are exploded and joined with pandas; everything
else stays in numpy.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._config import FeatureConfig
from features._windows import Prepared, count_before

__all__ = ["sequence_counts"]

I64 = npt.NDArray[np.int64]

_SNAPSHOT_MAKERS: Final = ("CreateSnapshot", "CreateSnapshots", "CopySnapshot")
_MODIFY_ATTRIBUTES: Final = ("userData", "instanceType")
_ACCOUNT: Final = re.compile(r"^\d{12}$")
_STEPS: Final = (
    "CreateVolume",
    "AttachVolume",
    "RunInstances",
    "StopInstances",
    "StartInstances",
    "ModifyInstanceAttribute",
    *_SNAPSHOT_MAKERS,
)


def _steps(prepared: Prepared, names: tuple[str, ...], prefix: str, column: str) -> pd.DataFrame:
    """Rows of successful ``names`` events exploded to their ids starting with ``prefix``."""
    frame = prepared.frame
    codes, uniques = prepared.codes("event_name")
    wanted = np.flatnonzero(np.isin(uniques, names))
    rows = np.flatnonzero(np.isin(codes, wanted) & _succeeded(prepared))
    exploded = pd.DataFrame(
        {
            "row": rows,
            "ident": prepared.ident[rows],
            "time": prepared.time[rows],
            "event_name": frame["event_name"].to_numpy()[rows],
            "attribute": frame["attribute"].to_numpy()[rows],
            column: frame["resource_ids"].to_numpy()[rows],
        }
    ).explode(column)
    exploded = exploded[exploded[column].astype(str).str.startswith(prefix)]
    return exploded.astype({"row": np.int64, "ident": np.int64, "time": np.int64})


def _succeeded(prepared: Prepared) -> npt.NDArray[np.bool_]:
    return prepared.codes("error_code")[0] < 0


def _within(joined: pd.DataFrame, later: str, earlier: str, horizon_ns: int) -> pd.DataFrame:
    keep = (joined[earlier] <= joined[later]) & (joined[earlier] >= joined[later] - horizon_ns)
    return joined[keep]


def _snapshot_chains(prepared: Prepared, horizon_ns: int) -> tuple[I64, I64]:
    """Attach rows completing volume-from-snapshot + new instance, and the full chain."""
    volumes = _steps(prepared, ("CreateVolume",), "vol-", "volume")
    volume_snaps = _steps(prepared, ("CreateVolume",), "snap-", "snapshot")
    volumes = volumes.merge(volume_snaps[["row", "snapshot"]], on="row")
    volumes = volumes.rename(columns={"time": "t_volume"})[
        ["ident", "volume", "snapshot", "t_volume"]
    ]
    attach_vol = _steps(prepared, ("AttachVolume",), "vol-", "volume")
    attach_inst = _steps(prepared, ("AttachVolume",), "i-", "instance")
    attaches = attach_vol[["row", "ident", "time", "volume"]].merge(
        attach_inst[["row", "instance"]], on="row"
    )
    launches = _steps(prepared, ("RunInstances",), "i-", "instance")
    launches = launches.rename(columns={"time": "t_launch"})[["ident", "instance", "t_launch"]]
    chain = _within(attaches.merge(volumes, on=["ident", "volume"]), "time", "t_volume", horizon_ns)
    chain = _within(chain.merge(launches, on=["ident", "instance"]), "time", "t_launch", horizon_ns)
    partial = np.unique(chain["row"].to_numpy(dtype=np.int64))
    snaps = _steps(prepared, _SNAPSHOT_MAKERS, "snap-", "snapshot")
    snaps = snaps.rename(columns={"time": "t_snapshot"})[["ident", "snapshot", "t_snapshot"]]
    full = chain.merge(snaps, on=["ident", "snapshot"])
    full = full[
        (full["t_snapshot"] <= full["t_volume"]) & (full["t_snapshot"] >= full["time"] - horizon_ns)
    ]
    return partial, np.unique(full["row"].to_numpy(dtype=np.int64))


def _stop_modify_start(prepared: Prepared, horizon_ns: int) -> I64:
    """Start rows preceded by stop then userData/instanceType change of the same instance."""
    starts = _steps(prepared, ("StartInstances",), "i-", "instance")[
        ["row", "ident", "time", "instance"]
    ]
    modifies = _steps(prepared, ("ModifyInstanceAttribute",), "i-", "instance")
    modifies = modifies[modifies["attribute"].isin(_MODIFY_ATTRIBUTES)]
    modifies = modifies.rename(columns={"time": "t_modify"})[["ident", "instance", "t_modify"]]
    stops = _steps(prepared, ("StopInstances",), "i-", "instance")
    stops = stops.rename(columns={"time": "t_stop"})[["ident", "instance", "t_stop"]]
    chain = _within(
        starts.merge(modifies, on=["ident", "instance"]), "time", "t_modify", horizon_ns
    )
    chain = chain.merge(stops, on=["ident", "instance"])
    chain = chain[
        (chain["t_stop"] <= chain["t_modify"]) & (chain["t_stop"] >= chain["time"] - horizon_ns)
    ]
    return np.unique(chain["row"].to_numpy(dtype=np.int64))


def _shares(prepared: Prepared, config: FeatureConfig) -> tuple[I64, I64]:
    """Rows of successful snapshot/image shares to a foreign account, and to the public."""
    frame = prepared.frame
    mask = (
        (frame["action"] == "share").to_numpy()
        & frame["resource_type"].isin(("snapshot", "image")).to_numpy()
        & _succeeded(prepared)
    )
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    targets = pd.DataFrame(
        {
            "row": rows,
            "account": frame["account_id"].to_numpy()[rows],
            "target": frame["share_targets"].to_numpy()[rows],
        }
    ).explode("target")
    targets = targets[targets["target"].notna()]
    target = targets["target"].astype(str)
    public = target == "all"
    own = set(config.org_accounts)
    foreign = (
        target.str.match(_ACCOUNT) & (target != targets["account"].astype(str)) & ~target.isin(own)
    )
    return (
        np.unique(targets.loc[foreign, "row"].to_numpy(dtype=np.int64)),
        np.unique(targets.loc[public, "row"].to_numpy(dtype=np.int64)),
    )


def sequence_counts(
    prepared: Prepared,
    window_of_row: I64,
    window_ident: I64,
    window_end: I64,
    n_windows: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per output window, the sequence features of the catalogue.

    Parameters
    ----------
    prepared : Prepared
        All events, the look-back context included.
    window_of_row : numpy.ndarray
        Output window index of each row, ``-1`` for rows of no output window.
    window_ident, window_end : numpy.ndarray
        Identity code and end (ns) of each output window.
    n_windows : int
        Number of output windows.
    """
    config = prepared.config
    horizon = config.horizon_ns

    def per_window(rows: I64) -> npt.NDArray[np.float64]:
        windows = window_of_row[rows]
        windows = windows[windows >= 0]
        return np.bincount(windows, minlength=n_windows).astype(np.float64)

    partial, full = _snapshot_chains(prepared, horizon)
    foreign, public = _shares(prepared, config)
    frame = prepared.frame
    snap_mask = (
        (frame["resource_type"] == "snapshot").to_numpy()
        & frame["action"].isin(("create", "copy")).to_numpy()
        & _succeeded(prepared)
    )
    snap_rows = np.flatnonzero(snap_mask)
    in_horizon = count_before(
        prepared.ident[snap_rows], prepared.time[snap_rows], window_ident, window_end
    ) - count_before(
        prepared.ident[snap_rows], prepared.time[snap_rows], window_ident, window_end - horizon
    )
    return {
        "seq_snapshot_volume_attach": per_window(partial),
        "seq_own_snapshot_volume_attach": per_window(full),
        "share_foreign": per_window(foreign),
        "share_public": per_window(public),
        "seq_stop_modify_start": per_window(_stop_modify_start(prepared, horizon)),
        "snapshots_in_horizon": in_horizon.astype(np.float64),
    }
