"""The model the service scores with, swapped atomically on reload.

A reload loads the new scorer completely, then replaces one reference under a lock;
a request reads that reference once (:attr:`ModelHolder.current`) and keeps the
:class:`LoadedModel` it got for its whole life, so it is never scored by a half-loaded
model. A failed load keeps the old model and says why. ``changewatch serve`` loads the model
before the service starts (:meth:`ModelHolder.load_before_start`) and stops there when it
cannot be loaded, unless told to serve degraded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from features import ChangewatchError, ConfigurationError
from models.scoring import REGISTRY_SCHEMES, Scorer, load_scorer
from serving._model_states import FRAME_HORIZON, ModelStates

__all__ = [
    "LoadedModel",
    "ModelHolder",
    "ModelInfo",
    "ModelResolver",
    "load_model",
    "local_bundles",
]

logger = logging.getLogger(__name__)

_REGISTRY_PREFIX: Final = "models:/"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What is known of a loaded model (``None`` where the bundle does not say)."""

    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    training_start: str | None = None
    training_end: str | None = None
    feature_schema_version: str | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A scorer (``None`` scores with the rules only) with where it came from and why not.

    Attributes
    ----------
    uri : str
        What was asked for: a bundle directory, ``models:/NAME@alias`` or ``none``.
    scorer : Scorer or None
        The detector; ``None`` when rules only.
    info : ModelInfo
        Name, version, alias, run, training period, feature schema.
    loaded_at : datetime
        When this model was installed.
    error : str or None
        Why no model is loaded, when one was asked for and could not be.
    states : ModelStates
        This model's state of each identity (in this process), ADR 0032.
    """

    uri: str
    scorer: Scorer | None = None
    info: ModelInfo = field(default_factory=ModelInfo)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error: str | None = None
    states: ModelStates = field(default_factory=lambda: ModelStates(FRAME_HORIZON))

    @property
    def degraded(self) -> bool:
        """Whether scoring runs on the rules alone."""
        return self.scorer is None

    @property
    def reason(self) -> str | None:
        """Why the service is degraded, in words, or ``None``."""
        if self.scorer is not None:
            return None
        if self.error is not None:
            return f"rules only: model {self.uri!r} could not be loaded: {self.error}"
        return "rules only: no model configured (--model none)"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def describe(scorer: Any, uri: str) -> ModelInfo:
    """Read the model's metadata: its ``metadata`` mapping or attributes, then ``info()``."""
    meta: Any = getattr(scorer, "metadata", None) or {}
    detector = getattr(scorer, "detector", scorer)
    trained = getattr(detector, "training_period_", None)

    def get(*names: str) -> Any:
        for name in names:
            value = meta.get(name) if isinstance(meta, Mapping) else getattr(meta, name, None)
            if value is not None:
                return value
        return None

    info = scorer.info() if hasattr(scorer, "info") else None
    alias = uri.rsplit("@", 1)[1] if uri.startswith(_REGISTRY_PREFIX) and "@" in uri else None
    period = get("training_period") or {}
    if trained is not None and not period:
        period = {"start": trained[0], "end": trained[1]}
    start = get("training_start") or (period.get("start") if isinstance(period, Mapping) else None)
    end = get("training_end") or (period.get("end") if isinstance(period, Mapping) else None)
    features = get("feature_names", "features") or getattr(detector, "feature_names_", ())
    return ModelInfo(
        name=_text(get("name", "model_name") or (info.name if info else None)),
        version=_text(get("version", "model_version") or (info.version if info else None)),
        alias=_text(get("alias") or alias),
        run_id=_text(get("run_id")),
        training_start=_text(start),
        training_end=_text(end),
        feature_schema_version=_text(get("feature_schema_version", "vector_schema_version")),
        features=tuple(str(f) for f in features),
    )


ModelResolver = Callable[[str], tuple[str, Mapping[str, str | None]]]
"""Turns a model URI into a local bundle directory and its registration (``name``,
``version``, ``alias``, ``run_id``, ``uri``). The service does not know any registry: the
command line hands it one that asks the training package (``changewatch serve
--tracking-uri``)."""


def local_bundles(uri: str) -> tuple[str, Mapping[str, str | None]]:
    """Resolve for a service started without a registry: bundle directories only.

    Raises
    ------
    ConfigurationError
        For a registry URI (``models:/``, ``runs:/``).
    """
    if uri.startswith(REGISTRY_SCHEMES):
        raise ConfigurationError(
            f"{uri!r} needs a model registry: start the service with `changewatch serve "
            "--model URI --tracking-uri STORE`, or give a bundle directory"
        )
    return uri, {}


def load_model(
    uri: str, resolve: ModelResolver = local_bundles, key: bytes | None = None
) -> tuple[Scorer | None, ModelInfo]:
    """Load what ``uri`` names: ``none``, a bundle directory, or a registry URI ``resolve`` knows.

    The bundle is loaded by :func:`models.scoring.load_scorer`, the loader ``changewatch
    score`` and Spark use, so all of them score with the same model the same way. With
    ``key`` the bundle must be signed with it.

    Raises
    ------
    ChangewatchError
        When the model cannot be loaded; the message says why.
    """
    if uri.strip().lower() == "none":
        return None, ModelInfo()
    path, registered = resolve(uri)
    if not Path(path).is_dir():
        raise ConfigurationError(f"model bundle {path!r} is not a directory")
    scorer = load_scorer(
        path, registered={**registered, "uri": registered.get("uri") or uri}, key=key
    )
    if not isinstance(scorer, Scorer):
        raise ConfigurationError(f"{uri!r} did not load as a scorer (info and score_windows)")
    return scorer, describe(scorer, uri)


class ModelHolder:
    """Holds the current :class:`LoadedModel`; :meth:`reload` swaps it atomically."""

    def __init__(
        self, uri: str, loader: Callable[[str], tuple[Scorer | None, ModelInfo]] = load_model
    ) -> None:
        self.uri = uri
        self._loader = loader
        self._lock = threading.Lock()
        self._current = LoadedModel(uri)
        self.last_error: str | None = None
        self.generation = 0
        """The shared reload counter this process's model answers to (``serving.api.reloads``)."""
        self._loaded_early = False

    @property
    def current(self) -> LoadedModel:
        """The model to score with; read it once per request."""
        return self._current

    def load_before_start(self) -> tuple[bool, str | None]:
        """Load the model before the service starts, so a model that cannot load stops it.

        ``changewatch serve`` calls this before uvicorn runs and reports a failure itself;
        the service's own first :meth:`reload` (at start-up) then keeps what was loaded
        instead of loading it twice.

        Returns
        -------
        (bool, str or None)
            Whether the model is installed, and why not.
        """
        with self._lock:
            installed, why = self._load(early=True)
            self._loaded_early = True
            return installed, why

    def reload(self) -> tuple[bool, str | None]:
        """Load the newest model for ``uri`` and swap it in; on failure keep the old one.

        Returns
        -------
        (bool, str or None)
            Whether the new model is installed, and why not.
        """
        with self._lock:
            if self._loaded_early:  # the start-up load, done a moment ago
                self._loaded_early = False
                return self.last_error is None, self.last_error
            return self._load(early=False)

    def _load(self, *, early: bool) -> tuple[bool, str | None]:
        try:
            scorer, info = self._loader(self.uri)
        except Exception as error:
            why = str(error) if isinstance(error, ChangewatchError) else repr(error)
            self.last_error = why
            kept = "keeping the current one" if self._current.scorer else "rules only"
            log = logger.info if early else logger.warning  # the caller reports an early one
            log("model %s not loaded, %s: %s", self.uri, kept, why)
            if self._current.scorer is None:
                self._current = LoadedModel(self.uri, error=why)
            return False, why
        self._current = LoadedModel(self.uri, scorer, info)
        self.last_error = None
        logger.info("model %s installed (%s %s)", self.uri, info.name, info.version)
        return True, None
