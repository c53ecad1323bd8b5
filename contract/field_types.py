"""How ``contract.fields`` turns a table's value into a field's type, by the field's annotation.

TOML values are typed already, so a conversion is only what a hand-written file needs: a numeric
string for a number, "true"/"false" (and Backend.AI's yes/no, on/off, 1/0) for a bool, a whole float
for an int, a string for a path.  Everything else is refused with the kind that was expected.
"""

from __future__ import annotations

import math
import types
from pathlib import Path
from typing import Any, Callable, Literal, Union, get_args, get_origin

Location = tuple[str, ...]
Problems = list[tuple[Location, str]]
Convert = Callable[[Any, Location, Problems], Any]
INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()

_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (None)"
    return next((name for kind, name in _KINDS.items() if isinstance(value, kind)), type(value).__name__)


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"must be true or false, not {kind_of(value)}")


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"must be an integer, not {value!r}") from None
    raise ValueError(f"must be an integer (a whole number), not {kind_of(value)}")


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"must be a number, not {value!r}") from None
    if isinstance(value, (int, float)):
        # TOML has inf and nan: an endless timeout or drain would be a hang, and nan passes no bound.
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, not {value!r}")
        return float(value)
    raise ValueError(f"must be a number, not {kind_of(value)}")


def _to_str(value: Any) -> Any:
    if isinstance(value, str):
        return value
    raise ValueError(f"must be a string, not {kind_of(value)}")


def _to_path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if isinstance(value, str):
        return Path(value)
    raise ValueError(f"must be a path (a string), not {kind_of(value)}")


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    Path: _to_path,
}


def _scalar(to: Callable[[Any], Any]) -> Convert:
    def convert(value: Any, location: Location, problems: Problems) -> Any:
        try:
            return to(value)
        except ValueError as exc:
            problems.append((location, str(exc)))
            return INVALID

    return convert


def _anything(value: Any, location: Location, problems: Problems) -> Any:
    return value


def _optional(inner: Convert) -> Convert:
    return lambda value, location, problems: None if value is None else inner(value, location, problems)


def _choice(choices: tuple[Any, ...]) -> Convert:
    words = " or ".join(filter(None, [", ".join(repr(choice) for choice in choices[:-1]), repr(choices[-1])]))

    def convert(value: Any, location: Location, problems: Problems) -> Any:
        if isinstance(value, (str, int)) and value in choices:
            return value
        problems.append((location, f"must be {words}, not {value!r}"))
        return INVALID

    return convert


def _list(item: Convert) -> Convert:
    def convert(value: Any, location: Location, problems: Problems) -> Any:
        if not isinstance(value, (list, tuple)):
            problems.append((location, f"must be a list, not {kind_of(value)}"))
            return INVALID
        items = [item(entry, (*location, str(index)), problems) for index, entry in enumerate(value)]
        return INVALID if any(entry is INVALID for entry in items) else items

    return convert


def _table(item: Convert) -> Convert:
    def convert(value: Any, location: Location, problems: Problems) -> Any:
        if not isinstance(value, dict):
            problems.append((location, f"must be a table, not {kind_of(value)}"))
            return INVALID
        table = {key: item(entry, (*location, str(key)), problems) for key, entry in value.items()}
        return INVALID if any(entry is INVALID for entry in table.values()) else table

    return convert


def converter(annotation: Any) -> tuple[Convert, Any]:
    """The conversion of a field declared with ``annotation``, and its nested model class if it is one."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return _anything, None
    if origin in (Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) != 1 or len(others) == len(args):
            raise TypeError(f"only X | None unions are supported, not {annotation!r}")
        inner, model = converter(others[0])
        return _optional(inner), model
    if origin is Literal:
        return _choice(args), None
    if origin is list:
        return _list(converter(args[0])[0]), None
    if origin is dict:
        return _table(converter(args[1])[0]), None
    if annotation in _SCALARS:
        return _scalar(_SCALARS[annotation]), None
    if isinstance(annotation, type) and hasattr(annotation, "build"):  # a contract.fields.Model
        return annotation.build, annotation
    raise TypeError(f"unsupported field type {annotation!r}")
