"""Storage: SQLAlchemy Core behind one small interface, :class:`~deskstream.store.engine.Store`."""

from deskstream.store.engine import Store

__all__ = ["Store"]
