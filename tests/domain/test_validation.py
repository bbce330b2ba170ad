"""The input types every input model is built from: text is valid Unicode without NUL, a free-form value is JSON that
orjson and both databases hold as it came, an id fits the signed 64-bit id columns, a time is one ISO 8601 can write.

And every input model uses them: a ``str`` or ``Any`` field that does not is a field through which a lone surrogate, a
NUL or a 65-bit integer reaches the store (a 500), so the models are checked field by field.
"""

from __future__ import annotations

import math
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from deskstream.domain import people, sla, tickets
from deskstream.domain.validation import MAX_DEPTH, MAX_ID, MIN_INT, is_id, json_problem, text_problem

MODELS: list[type[BaseModel]] = [
    tickets.TicketInput,
    tickets.CommentInput,
    tickets.RequesterInput,
    tickets.CustomFieldInput,
    people.UserInput,
    people.OrganizationInput,
    people.GroupInput,
    sla.PolicyInput,
    sla.FilterInput,
    sla.ConditionInput,
    sla.PolicyMetricInput,
]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("text", ["", "plain", "é", "日本語", "😀", "e\u0301", "\u202eRTL", "\x01\x1f\x7f", "\ufeff"])
def test_any_valid_unicode_without_nul_is_text(text: str) -> None:
    assert text_problem(text) is None


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\ud83d", "\ude00x"])
def test_a_lone_surrogate_is_not_text(text: str) -> None:
    assert text_problem(text) == "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "é\x00", "\x00\ud800"])
def test_a_nul_is_not_text(text: str) -> None:
    assert text_problem(text) == "must not contain the NUL character (\\u0000)"


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, MAX_ID, MIN_INT, 1.5, -0.0, "é", [], {}, ["a", 1, None], {"k": {"k": [1.0]}},
     nested(MAX_DEPTH)],
)  # fmt: skip
def test_json_that_orjson_and_the_databases_hold_is_a_free_form_value(value: Any) -> None:
    assert json_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (MAX_ID + 1, "numbers must fit in a signed 64-bit integer"),
        (MIN_INT - 1, "numbers must fit in a signed 64-bit integer"),
        ([1, 2**64], "numbers must fit in a signed 64-bit integer"),
        (math.nan, "numbers must be finite (not NaN or Infinity)"),
        ({"x": [math.inf]}, "numbers must be finite (not NaN or Infinity)"),
        ("a\x00", "must not contain the NUL character (\\u0000)"),
        (["ok", "\ud800"], "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"),
        ({"\ud800": 1}, "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"),
        ({"a": {"b\x00": 1}}, "must not contain the NUL character (\\u0000)"),
        (nested(MAX_DEPTH + 1), f"must not nest more than {MAX_DEPTH} levels deep"),
        (nested(300), f"must not nest more than {MAX_DEPTH} levels deep"),
        ({1: "a"}, "object keys must be strings"),
        (b"bytes", "must be a JSON value, not bytes"),
    ],
)
def test_a_free_form_value_that_cannot_be_stored_and_served_as_it_came_is_refused(value: Any, problem: str) -> None:
    assert json_problem(value) == problem


@pytest.mark.parametrize(("value", "valid"), [(1, True), (MAX_ID, True), (MAX_ID + 1, False), (0, False),
                                              (-1, False), (True, False), ("1", False), (1.0, False), (None, False)])
def test_an_id_outside_an_input_model_is_a_positive_signed_64_bit_integer(value: Any, valid: bool) -> None:
    assert is_id(value) is valid


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": "\ud800"}, "subject"),
        ({"tags": ["ok", "a\x00"]}, "tags"),
        ({"comment": {"body": "\ud800"}}, "comment"),
        ({"custom_fields": [{"id": 1, "value": 2**64}]}, "custom_fields"),
        ({"requester_id": 2**63}, "requester_id"),
        ({"due_at": "9999-12-31T23:59:59-14:00"}, "due_at"),
        ({"due_at": "1969-12-31T23:59:59Z"}, "due_at"),
    ],
)
def test_a_ticket_input_names_the_field_that_holds_what_cannot_be_stored(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        tickets.TicketInput.model_validate(data)
    assert [error["loc"][0] for error in raised.value.errors()] == [field]


def test_a_due_at_at_either_end_of_the_writable_range_is_accepted() -> None:
    for moment in ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert tickets.TicketInput.model_validate({"due_at": moment}).due_at is not None


def _leaves(annotation: Any, wrapped_by: tuple[str, ...] = ()) -> list[tuple[Any, tuple[str, ...]]]:
    """Each leaf type of a field's annotation, with the names of the validators of the ``Annotated`` around it."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        names = tuple(getattr(getattr(m, "func", None), "__name__", "") for m in metadata)
        return _leaves(inner, wrapped_by + names)
    args = typing.get_args(annotation)
    if args:
        return [leaf for arg in args for leaf in _leaves(arg, wrapped_by)]
    return [(annotation, wrapped_by)]


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_text_and_free_form_field_of_every_input_model_is_validated(model: type[BaseModel]) -> None:
    """``str`` only as :data:`Text` (or a ``Literal``), ``Any`` only as :data:`JsonValue`, ``int`` ids only as
    :data:`Id`: a plain ``str``, ``Any`` or unbounded ``int`` is a way past validation into the store."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if field.metadata:  # Field(max_length=...) moves the outer Annotated's metadata here
            annotation = typing.Annotated[annotation, *field.metadata]
        for leaf, validators in _leaves(annotation):
            if leaf is str:
                assert "_text" in validators, f"{model.__name__}.{name} is a plain str: use Text"
            if leaf is Any:
                assert "_json_value" in validators, f"{model.__name__}.{name} is a plain Any: use JsonValue"
            if leaf is int and name.endswith(("id", "ids")):
                assert "_not_bool" in validators, f"{model.__name__}.{name} is a plain int: use Id"
