"""Turning a request object into a validated input model, with Zendesk's 422 ``RecordInvalid`` on failure.

The types every input model is built from, so that what passes validation can be stored on SQLite and PostgreSQL
and served back as it came:

- :data:`Text`: a string that is valid Unicode (no lone surrogate, which cannot be encoded as UTF-8) and holds no
  NUL character (which PostgreSQL's text columns refuse).
- :data:`Id`: a reference to a record, a positive signed 64-bit integer (the id columns' range).
- :data:`JsonValue`: a free-form value (a custom field's value, ``user_fields``): JSON whose strings are
  :data:`Text`, whose numbers fit a signed 64-bit integer or are finite, nested at most :data:`MAX_DEPTH` deep.
- :data:`Moment`: a time between 1970 and 9999 (what the ISO 8601 form Zendesk serves can express).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from deskstream.exceptions import Unprocessable

T = TypeVar("T", bound=BaseModel)

#: The largest id a record can have: ids are signed 64-bit columns, and a larger number must be refused as invalid
#: input before it reaches the database driver (where it would be an OverflowError, i.e. a 500).
MAX_ID = 2**63 - 1
#: The smallest integer a free-form value may hold (signed 64-bit, as orjson and the database can hold it).
MIN_INT = -(2**63)
#: How deep a free-form value may nest (orjson refuses to write past 255 levels; no custom field needs more than 2).
MAX_DEPTH = 32
#: The last second :func:`deskstream.domain.timefmt.iso` can write: 9999-12-31T23:59:59Z.
MAX_SECONDS = 253_402_300_799


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"
    return None


def _text(value: Any) -> Any:
    """Before pydantic's own ``str`` check, which refuses some lone surrogates and lets others through (in lists)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise PydanticCustomError("invalid_text", problem)
    return value


def _not_bool(value: Any) -> Any:
    """JSON ``true`` is not the id 1 (pydantic's lax mode would take it as one)."""
    if isinstance(value, bool):
        raise ValueError("must be an id, not true or false")
    return value


def is_id(value: Any) -> bool:
    """Whether ``value`` can be a record's id (an :data:`Id`), for ids that arrive outside an input model."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` (decoded JSON) cannot be stored and served back as it came, or None when it can."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, int):
        return None if MIN_INT <= value <= MAX_ID else "numbers must fit in a signed 64-bit integer"
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite (not NaN or Infinity)"
    if isinstance(value, list | tuple | dict) and depth >= MAX_DEPTH:
        return f"must not nest more than {MAX_DEPTH} levels deep"
    if isinstance(value, list | tuple):
        return next((p for p in (json_problem(item, depth + 1) for item in value) if p), None)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key) if isinstance(key, str) else "object keys must be strings"
            problem = problem or json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return f"must be a JSON value, not {type(value).__name__}"


def _json_value(value: Any) -> Any:
    problem = json_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_json_value", problem)
    return value


def _representable(moment: datetime) -> datetime:
    try:
        seconds = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (OverflowError, ValueError):
        seconds = -1
    if not 0 <= seconds <= MAX_SECONDS:
        raise PydanticCustomError("time_out_of_range", "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    return moment


#: Free-form text in an input body (a subject, a comment, a name, a tag, ...).
Text = Annotated[str, BeforeValidator(_text)]
#: A reference to a record in an input body (``assignee_id``, ``group_id``, a custom field's ``id``, ...).
Id = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=MAX_ID)]
#: A free-form JSON value in an input body (a custom field's value, a value of ``user_fields``, a condition's value).
JsonValue = Annotated[Any, AfterValidator(_json_value)]
#: A time in an input body (``due_at``).
Moment = Annotated[datetime, AfterValidator(_representable)]


def parse_input(model: type[T], data: Any, wrapper: str) -> T:
    """Validate the object inside a wrapped body (``{"ticket": {...}}``); every problem is listed in ``details``."""
    if not isinstance(data, dict):
        raise Unprocessable.field(wrapper, f"{wrapper.capitalize()}: must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details: dict[str, list[dict[str, str]]] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else wrapper
            below = ".".join(str(part) for part in error["loc"][1:])
            text = f"{name.replace('_', ' ').capitalize()}: " + (f"{below}: " if below else "") + error["msg"]
            details.setdefault(name, []).append({"description": text, "error": "InvalidValue"})
        raise Unprocessable(details=details) from None
