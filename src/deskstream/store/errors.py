"""The store's own errors: what callers may catch instead of SQLAlchemy's or a driver's exceptions.

:meth:`Store.read` and :meth:`Store.write` translate at one place, so no layer above ``store/`` imports SQLAlchemy
to handle a failure.
"""

from __future__ import annotations


class StoreError(Exception):
    """Something the database refused or could not do."""


class DuplicateRecord(StoreError):
    """A write would break a uniqueness rule (two users with one email, written by concurrent transactions)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened (a wrong URL, a server that is down, a missing driver)."""
