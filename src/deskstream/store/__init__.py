"""Storage: SQLAlchemy Core behind one small interface, :class:`~deskstream.store.engine.Store`.

``Store`` is loaded on first use (PEP 562), so importing :mod:`deskstream.store.errors` alone — as the command line
does to word a failure — does not load SQLAlchemy: ``deskstream sync`` starts without the server's storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskstream.store.engine import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from deskstream.store.engine import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
