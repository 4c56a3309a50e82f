"""A SparkSession with sane defaults for changewatch: Arrow on, UTC, quiet local mode.

On a cluster (``spark-submit``, Databricks, EMR) the platform builds the session and
:func:`spark_session` only adjusts the settings changewatch depends on (Arrow, UTC);
locally it starts one with small shuffles and no UI. :func:`require_spark` tells,
in one sentence, what is missing when pyspark or Java is not there.
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from features import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SESSION_DEFAULTS", "missing_spark", "require_spark", "spark_session"]

logger = logging.getLogger(__name__)

SESSION_DEFAULTS: Final = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
}
"""Settings every changewatch session gets, local or on a cluster."""

_LOCAL_DEFAULTS: Final = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "4g",
    "spark.sql.execution.pyspark.udf.faulthandler.enabled": "true",
}


def missing_spark() -> str | None:
    """Why Spark cannot run here (pyspark or Java missing), or ``None`` when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'changewatch[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return None
    if shutil.which("java") is None:
        return "no Java runtime: install Java 17 (e.g. apt-get install openjdk-17-jre-headless)"
    return None


def require_spark() -> None:
    """Raise when pyspark or Java is missing.

    Raises
    ------
    ConfigurationError
        Naming what is missing and how to install it.
    """
    why = missing_spark()
    if why is not None:
        raise ConfigurationError(f"--engine spark needs Spark: {why}")


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-")


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "changewatch",
    shuffle_partitions: int | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Return the active SparkSession, or start one.

    Parameters
    ----------
    master : str, optional
        ``local[2]``, ``spark://host:7077``, ``yarn`` ... When ``None``, an active
        session (the one ``spark-submit`` or Databricks made) is used as it is, and
        without one a ``local[*]`` session is started.
    app_name : str
        Name shown in the Spark UI and history server.
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; locally defaults to twice the cores.
    conf : mapping, optional
        Further Spark settings; they win over the defaults.

    Returns
    -------
    pyspark.sql.SparkSession
        With Arrow enabled and the session time zone set to UTC.

    Raises
    ------
    ConfigurationError
        When pyspark or Java is missing.
    """
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        for key, value in {**SESSION_DEFAULTS, **(conf or {})}.items():
            active.conf.set(key, value)
        if shuffle_partitions is not None:
            active.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
        return active
    chosen = master or "local[*]"
    builder = SparkSession.builder.master(chosen).appName(app_name)
    settings = dict(SESSION_DEFAULTS)
    if _is_local(chosen):
        # Local Python workers must run this interpreter (and see its packages); on a
        # cluster the platform decides which Python the executors run.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        settings.update(_LOCAL_DEFAULTS)
        cores = os.cpu_count() or 1
        if chosen.startswith("local[") and chosen[6:-1].isdigit():
            cores = int(chosen[6:-1])
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions or 2 * cores)
        settings["spark.default.parallelism"] = str(shuffle_partitions or 2 * cores)
    elif shuffle_partitions is not None:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    logger.info("spark %s session on %s", session.version, chosen)
    return session
