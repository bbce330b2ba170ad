"""deskstream in a connector's test suite (docs/testing.md): the ``zendesk`` pytest fixture and its helpers.

``pip install deskstream`` registers the plugin (:mod:`deskstream.testing.plugin`, a ``pytest11`` entry point).
The names below are for type hints (``def test_sync(zendesk: Zendesk)``); they are imported on first use, so that
pytest loading the plugin in a project that never asks for the fixture costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskstream.testing.journal import Request
    from deskstream.testing.scenario import Scenario
    from deskstream.testing.zendesk import HelperError, Zendesk

__all__ = ["HelperError", "Request", "Scenario", "Zendesk"]

_HOMES = {"HelperError": "zendesk", "Request": "journal", "Scenario": "scenario", "Zendesk": "zendesk"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'deskstream.testing' has no attribute {name!r}")
    return getattr(import_module(f"deskstream.testing.{_HOMES[name]}"), name)
