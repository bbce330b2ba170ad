"""deskstream's typed errors, each carrying the HTTP status and the Zendesk-shaped body it renders to.

The HTTP layer renders them once (``deskstream.api.errors``); the domain and the store raise them without knowing
about HTTP. The tree::

    DeskstreamError
    ├── BadRequest            400  malformed input: JSON, parameters, cursors
    ├── Unauthenticated       401  no or wrong credentials
    ├── Forbidden             403  authenticated, but the role may not do this
    ├── NotFound              404  no such record, or a deleted one
    ├── Conflict              409  safe_update with a stale updated_stamp
    ├── PayloadTooLarge       413  a body over the configured limit
    ├── Unprocessable         422  well-formed input with invalid values
    │   └── TooRecent         422  an export start_time within the horizon
    └── RateLimited           429  over the per-minute budget (carries retry_after)
"""

from __future__ import annotations

from typing import Any


class DeskstreamError(Exception):
    """Base class: raised for every failure that a client should see as a Zendesk-shaped error."""

    status: int = 500
    error: str = "InternalError"

    def __init__(self, description: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body Zendesk answers with for this kind of error."""
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["description"] = self.description
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(DeskstreamError):
    """Raised when a request cannot be parsed: malformed JSON, a missing or unparseable parameter, a bad cursor."""

    status = 400
    error = "InvalidValue"

    def __init__(self, description: str, details: dict[str, Any] | None = None, error: str | None = None) -> None:
        super().__init__(description, details)
        if error:
            self.error = error


class Unauthenticated(DeskstreamError):
    """Raised when credentials are missing or wrong."""

    status = 401

    def body(self) -> dict[str, Any]:
        return {"error": "Couldn't authenticate you"}


class Forbidden(DeskstreamError):
    """Raised when the authenticated user's role may not do what was asked."""

    status = 403
    error = "Forbidden"

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "title": "Forbidden",
                "message": "You do not have access to this page. Please contact the account owner of this help "
                "desk for further help.",
            }
        }


class NotFound(DeskstreamError):
    """Raised when a record does not exist (or was deleted and its child resources are asked for)."""

    status = 404
    error = "RecordNotFound"

    def __init__(self, description: str = "Not found") -> None:
        super().__init__(description)


class Conflict(DeskstreamError):
    """Raised by ``safe_update`` when the ticket changed since the client's ``updated_stamp``."""

    status = 409
    error = "UpdateConflict"

    def __init__(
        self,
        description: str = "Safe Update prevented the update due to outdated ticket data. "
        "Please fetch the latest ticket data and try again.",
    ) -> None:
        super().__init__(description)


class PayloadTooLarge(DeskstreamError):
    """A request body over ``max_body_bytes``: rendered (not raised) by ``api.middleware.BodyLimit``, which runs
    outside the app's exception handlers."""

    status = 413
    error = "RequestTooLarge"


class Unprocessable(DeskstreamError):
    """Raised when well-formed input holds invalid values (unknown enum, wrong type, missing required field)."""

    status = 422
    error = "RecordInvalid"

    def __init__(self, description: str = "Record validation errors", details: dict[str, Any] | None = None) -> None:
        super().__init__(description, details)

    @classmethod
    def field(cls, name: str, message: str) -> Unprocessable:
        """One invalid field, in Zendesk's ``details`` form."""
        return cls(details={name: [{"description": message, "error": "InvalidValue"}]})


class TooRecent(Unprocessable):
    """Raised when an export's ``start_time`` is within the horizon or in the future."""

    error = "InvalidValue"

    def __init__(self, description: str = "Too recent start_time. Use a start_time older than 1 minute") -> None:
        super().__init__(description)


class RateLimited(DeskstreamError):
    """Raised when a client is over its request budget; ``retry_after`` is whole seconds until it may retry."""

    status = 429
    error = "APIRateLimitExceeded"

    def __init__(
        self,
        retry_after: int,
        description: str = "Number of allowed incremental export API requests per minute exceeded",
    ) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class CursorExpired(DeskstreamError):
    """Raised when a change feed's ``since`` is older than its retention (or not one it gave): the changes after it
    are gone, so the client must resync in full, then follow the feed from ``resync_since`` (spec/beyond.md)."""

    status = 410
    error = "CursorExpired"

    def __init__(self, description: str, high_water_mark: int, resync_since: int) -> None:
        super().__init__(description)
        self.high_water_mark = high_water_mark
        self.resync_since = resync_since

    def body(self) -> dict[str, Any]:
        return {**super().body(), "high_water_mark": self.high_water_mark, "resync_since": self.resync_since}
