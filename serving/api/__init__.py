"""The HTTP scoring service (FastAPI): ``create_app(settings)`` and its settings.

Public surface::

    create_app(settings) -> FastAPI     the app ``changewatch serve`` runs with uvicorn
    Settings / get_settings()           CHANGEWATCH_* settings, read once per process
    uvicorn_options(max_header_bytes)   how to run it: uvloop, httptools with a header bound
"""

from __future__ import annotations

from serving.api.config import Settings, get_settings
from serving.api.http import free_port, served_in_thread, uvicorn_options
from serving.api.main import create_app

__all__ = [
    "Settings",
    "create_app",
    "free_port",
    "get_settings",
    "served_in_thread",
    "uvicorn_options",
]
