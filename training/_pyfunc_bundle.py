"""What both logged pyfunc models share: the detector travels as the ``bundle`` artifact.

Nothing is pickled: :meth:`BundledDetectorModel.load_context` loads and validates the
bundle with ``models.load_bundle``. The event scorer (``training/_pyfunc.py``) and the
vector scorer (``training/_pyfunc_vectors.py``) subclass it and differ only in
``predict``. Like them, this module is shipped in the logged model's ``code_paths``.
"""

from __future__ import annotations

from typing import Any

from mlflow.pyfunc.model import PythonModel, PythonModelContext

from training._pyfunc_io import BUNDLE_ARTIFACT

__all__ = ["BUNDLE_ARTIFACT", "BundledDetectorModel"]


class BundledDetectorModel(PythonModel):
    """A pyfunc model whose ``ChangeDetector`` is the validated ``bundle`` artifact."""

    def __init__(self) -> None:
        self._detector: Any = None

    def load_context(self, context: PythonModelContext) -> None:
        """Load and validate the detector bundle shipped with the model."""
        from models import load_bundle

        self._detector = load_bundle(context.artifacts[BUNDLE_ARTIFACT])

    def detector(self, context: PythonModelContext) -> Any:
        """Return the loaded detector, loading it first if ``load_context`` was not called."""
        if self._detector is None:
            self.load_context(context)
        return self._detector
