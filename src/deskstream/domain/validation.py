"""Turning a request object into a validated input model, with Zendesk's 422 ``RecordInvalid`` on failure."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from deskstream.exceptions import Unprocessable

T = TypeVar("T", bound=BaseModel)


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
