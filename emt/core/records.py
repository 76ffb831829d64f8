"""Typed JSON records: a frozen dataclass per record type, read and checked field by field.

`read_record(cls, data, where)` builds ``cls`` from a parsed JSON object. Every field is read by
its name: a missing required field, an unknown field or a value of the wrong type raises one
``ValueError`` naming the record, the field and what was expected, so a record written by
another version of the code is refused rather than half-read. Field types are the dataclass's
annotations: ``str``, ``int``, ``float`` (an int is accepted), ``bool``, ``dict``, ``list``,
``X | None`` and nested record dataclasses. A record class names its format in ``SCHEMA`` and
has a field that must equal it (``SCHEMA_FIELD``, default ``"schema"``).

Plain dataclasses are enough here: the records are small and flat, so a validation library
would add a dependency for what fifty lines do.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

__all__ = ["read_record", "record_to_json"]

R = TypeVar("R")
_SIMPLE = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
           dict: "an object", list: "a list"}


def _check(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(value, option, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if len(errors) == 1 else f"{where}: got {value!r}, expected "
                         f"one of {[str(o) for o in options]}")
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return read_record(annotation, value, where)
    base = origin or annotation
    if base not in _SIMPLE:
        raise TypeError(f"{where}: unsupported field type {annotation!r}")
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # a JSON integer of hundreds of digits has no float
            raise ValueError(f"{where} must be a number a float can hold; got an integer of "
                             f"{value.bit_length()} bits") from None
    if not isinstance(value, base) or (base in (int, float) and isinstance(value, bool)):
        raise ValueError(f"{where} must be {_SIMPLE[base]}; got {value!r}")
    return value


def read_record(cls: type[R], data: Any, where: str) -> R:
    """``cls`` built from ``data`` with every field checked (module docstring)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object; got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field {name!r}")
            continue
        values[name] = _check(data[name], hints[name], f"{where}: field {name!r}")
    schema = getattr(cls, "SCHEMA", None)
    if schema is not None:
        field = getattr(cls, "SCHEMA_FIELD", "schema")
        if values.get(field) != schema:
            raise ValueError(f"{where}: field {field!r} is {values.get(field)!r}, expected "
                             f"{schema!r} (a record of another format or version)")
    return cls(**values)


def record_to_json(record: Any) -> dict[str, Any]:
    """The record as a JSON-ready dict (nested records included)."""
    return dataclasses.asdict(record)
