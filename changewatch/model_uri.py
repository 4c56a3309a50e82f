"""Model URIs on the command line: registry URIs resolved by the training package.

The scoring core and the service load bundle directories only; a registry URI
(``models:/changewatch@champion``, ``runs:/<id>/model``) is resolved here, at the top of
the layers, by asking :mod:`training` (which owns MLflow) with the tracking store the
user named (``--tracking-uri``, else ``MLFLOW_TRACKING_URI``).
"""

from __future__ import annotations

from collections.abc import Mapping

from models.scoring import REGISTRY_SCHEMES, Scorer, load_scorer
from serving import ModelResolver

__all__ = ["load_cli_scorer", "registry_resolver"]


def registry_resolver(tracking_uri: str | None = None) -> ModelResolver:
    """Return a resolver that downloads registry URIs from ``tracking_uri``'s store."""

    def resolve(uri: str) -> tuple[str, Mapping[str, str | None]]:
        if not uri.startswith(REGISTRY_SCHEMES):
            return uri, {}
        from training import describe_model, load_model_bundle  # noqa: PLC0415 - MLflow

        path = load_model_bundle(uri, tracking_uri=tracking_uri)
        return str(path), {**describe_model(uri, tracking_uri=tracking_uri), "uri": uri}

    return resolve


def load_cli_scorer(uri: str, tracking_uri: str | None = None) -> Scorer | None:
    """Load the scorer ``uri`` names (``none``, a bundle directory or a registry URI)."""
    if uri.strip().lower() == "none":
        return None
    path, registered = registry_resolver(tracking_uri)(uri)
    return load_scorer(path, registered=registered)
