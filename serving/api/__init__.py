"""The HTTP scoring service (FastAPI): ``create_app(settings)`` and its settings.

Public surface::

    create_app(settings) -> FastAPI     the app ``changewatch serve`` runs with uvicorn
    Settings / get_settings()           CHANGEWATCH_* settings, read once per process
"""

from __future__ import annotations

from serving.api.config import Settings, get_settings
from serving.api.main import create_app

__all__ = ["Settings", "create_app", "get_settings"]
