"""The whole scorer as an MLflow pyfunc model, logged as "models from code".

MLflow copies this file into the logged model and runs it on load; the
``set_model`` call at the bottom names the model. Nothing is pickled: the detector
itself travels as the ``bundle`` artifact (``models.save_bundle``), loaded and
validated by ``models.load_bundle`` in :meth:`ChangeScorerModel.load_context`.

``predict`` takes canonical events and returns one row per identity window with the
score, the threshold and the alert flag (the contract is in
``training/_pyfunc_io.py``: :func:`training.pyfunc_input`,
:data:`training.PYFUNC_OUTPUT_COLUMNS`).
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModelContext

from training._pyfunc_bundle import BUNDLE_ARTIFACT, BundledDetectorModel
from training._pyfunc_io import from_pyfunc_input, pyfunc_output

__all__ = ["BUNDLE_ARTIFACT", "ChangeScorerModel"]


class ChangeScorerModel(BundledDetectorModel):
    """Canonical events in, scored windows out, by the bundled ``ChangeDetector``."""

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score the windows of a batch of canonical events (one row per window)."""
        detector = self.detector(context)
        windows = detector.score_windows(from_pyfunc_input(model_input))
        return pyfunc_output(windows, float(detector.threshold))


mlflow.models.set_model(ChangeScorerModel())
