"""Every package's public face: `__all__` names exactly what the package exports."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["changewatch", "changewatch.errors", "features", "models", "training", "serving"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and not inspect.ismodule(value)
        and attribute != "annotations"
    }
    public |= set(getattr(module, "_WHERE", ()))  # names imported on first use (PEP 562)
    declared = set(module.__all__) - {"__version__"}
    assert declared == public, "__all__ and the exported names differ"
    for attribute in declared:
        getattr(module, attribute)  # each resolves


def test_only_serving_imports_fastapi_and_mlflow_stays_out_of_features() -> None:
    import subprocess
    import sys

    code = (
        "import sys, features, models; "
        "bad = [m for m in ('fastapi', 'mlflow') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_command_line_and_training_import_neither_mlflow_nor_fastapi() -> None:
    import subprocess
    import sys

    code = (
        "import sys, changewatch.cli, changewatch.demo, training, training.simulation, serving; "
        "print(','.join(m for m in ('fastapi', 'mlflow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
