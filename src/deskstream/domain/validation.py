"""Turning a request object into a validated input model, with Zendesk's 422 ``RecordInvalid`` on failure."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from deskstream.exceptions import Unprocessable

T = TypeVar("T", bound=BaseModel)

#: The largest id a record can have: ids are signed 64-bit columns, and a larger number must be refused as invalid
#: input before it reaches the database driver (where it would be an OverflowError, i.e. a 500).
MAX_ID = 2**63 - 1


def _not_bool(value: Any) -> Any:
    """JSON ``true`` is not the id 1 (pydantic's lax mode would take it as one)."""
    if isinstance(value, bool):
        raise ValueError("must be an id, not true or false")
    return value


#: A reference to a record in an input body (``assignee_id``, ``group_id``, a custom field's ``id``, ...).
Id = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=MAX_ID)]


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
            details.setdefault(name, []).append(
                {"description": f"{name.replace('_', ' ').capitalize()}: {error['msg']}", "error": "InvalidValue"}
            )
        raise Unprocessable(details=details) from None
