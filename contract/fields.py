"""A small declarative model of typed, described fields: what the configuration (``contract.config``) is
made of.

A section is a class of ``Model`` whose attributes are ``Field``s under a type annotation (str, int,
float, bool, Path, Literal[...], list[X], dict[str, X], X | None, Any, or another Model for a nested
table).  ``Model.build`` checks a table against it and collects *every* problem, each at its location
(``("service", "port")``), instead of stopping at the first; ``Model(**values)`` raises ``Invalid``
with all of them.  Values are converted the way an operator's TOML needs (TOML values are typed, so
only the conversions a hand-written or Backend.AI file relies on: numeric strings, "true"/"false",
a whole float for an int); anything else is refused with a message naming the expected kind.

An instance remembers which keys its table set (``fields_set``) and, for a section declared with
``extra="allow"`` (one shared with Backend.AI's webserver.conf), the keys it does not model
(``extras``, readable as attributes too); ``extra="forbid"`` refuses them.  Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
import sys
from typing import Any, Callable, Literal

from contract.field_types import INVALID, Location, Problems, converter, kind_of

_MISSING: Any = object()


class Invalid(ValueError):
    """A table that does not fit its model: every problem, each with where it is."""

    def __init__(self, problems: Problems):
        self.problems = problems
        super().__init__("; ".join(describe(location, message) for location, message in problems))


def describe(location: Location, message: str) -> str:
    """``section.key: message``, as check-config prints it."""
    return f"{'.'.join(location) or '(file)'}: {message}"


class Field:
    """One setting: its default (or default_factory), a description for people, and its bounds."""

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        default_factory: Callable[[], Any] | None = None,
        description: str = "",
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        repr: bool = True,  # noqa: A002 - False keeps a secret out of repr() (logs, tracebacks)
    ):
        self.default, self.default_factory, self.description = default, default_factory, description
        self.bounds = [
            (op, limit) for op, limit in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if limit is not None
        ]
        self.min_length, self.max_length = min_length, max_length
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.repr = repr
        self.name = ""
        self.annotation: Any = None
        self.model: type[Model] | None = None  # the nested model, for a table of tables
        self.before: list[Callable] = []
        self.after: list[Callable] = []
        self._convert: Callable[[Any, Location, Problems], Any] | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def initial(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


class _Check:
    def __init__(self, func: Callable, names: tuple[str, ...], mode: str):
        self.func, self.names, self.mode = func, names, mode


def field_check(*names: str, mode: Literal["before", "after"] = "after") -> Callable[[Callable], _Check]:
    """Declare ``func(value)`` or ``func(value, info)`` a check of the named fields: ``before`` sees the
    table's raw value, ``after`` the converted one; it returns the value to keep or raises ValueError."""
    return lambda func: _Check(func, names, mode)


class _ModelCheck:
    def __init__(self, func: Callable):
        self.func = func


def model_check(func: Callable) -> _ModelCheck:
    """Declare ``func(self)`` a rule over several fields, run once they are all valid (ValueError: a problem
    at the table's own location)."""
    return _ModelCheck(func)


class CheckInfo:
    """What a two-argument field check is told: which field, and the fields validated before it."""

    __slots__ = ("field_name", "data")

    def __init__(self, field_name: str, data: dict[str, Any]):
        self.field_name, self.data = field_name, data


class Model:
    """A table of described fields; subclass with ``extra="forbid"`` (the default) or ``extra="allow"``."""

    FIELDS: dict[str, Field] = {}
    EXTRA = "forbid"
    _MODEL_CHECKS: tuple[Callable, ...] = ()

    def __init_subclass__(cls, extra: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if extra is not None:
            cls.EXTRA = extra
        fields = dict(cls.FIELDS)
        annotations = cls.__dict__.get("__annotations__", {})
        namespace = vars(sys.modules[cls.__module__])
        for name, value in list(cls.__dict__.items()):
            if isinstance(value, Field):
                if name not in annotations:
                    raise TypeError(f"{cls.__name__}.{name} has no type annotation")
                value.name = name
                value.annotation = _resolve(annotations[name], namespace)
                value._convert, value.model = converter(value.annotation)
                fields[name] = value
                delattr(cls, name)  # the instance's value is the attribute
        for check in [value for value in cls.__dict__.values() if isinstance(value, _Check)]:
            for name in check.names:
                field = fields[name]
                if name not in cls.__dict__.get("__annotations__", {}):  # inherited: the parent keeps its checks
                    field = fields[name] = copy.copy(field)
                    field.before, field.after = list(field.before), list(field.after)
                _add_check(field, check)
        inherited = cls._MODEL_CHECKS
        cls._MODEL_CHECKS = inherited + tuple(v.func for v in cls.__dict__.values() if isinstance(v, _ModelCheck))
        cls.FIELDS = fields

    def __init__(self, **values: Any):
        problems: Problems = []
        self._fill(values, (), problems)
        if problems:
            raise Invalid(problems)

    @classmethod
    def build(cls, table: Any, location: Location, problems: Problems) -> Any:
        """The model of ``table``, or INVALID with the reasons appended to ``problems``."""
        if isinstance(table, cls):
            return table
        if not isinstance(table, dict):
            problems.append((location, f"must be a table, not {kind_of(table)}"))
            return INVALID
        model = cls.__new__(cls)
        return model if model._fill(table, location, problems) else INVALID

    def _fill(self, table: dict[str, Any], location: Location, problems: Problems) -> bool:
        before = len(problems)
        fields = type(self).FIELDS
        extras = {key: value for key, value in table.items() if key not in fields}
        if extras and type(self).EXTRA != "allow":
            problems += [((*location, str(key)), "unknown key") for key in extras]
            extras = {}
        data: dict[str, Any] = {}
        for name, field in fields.items():
            if name in table:
                raw = table[name]
            elif field.required:
                problems.append(((*location, name), "is required"))
                continue
            else:
                raw = field.initial()
            value = _validate(field, raw, (*location, name), problems, data)
            if value is not INVALID:
                data[name] = value
        self.__dict__.update(data)
        self.__dict__["fields_set"] = {name for name in table if name in fields}
        self.__dict__["extras"] = extras
        if len(problems) > before:
            return False
        for check in type(self)._MODEL_CHECKS:
            try:
                check(self)
            except ValueError as exc:
                problems.append((location, str(exc)))
                return False
        return True

    def __getattr__(self, name: str) -> Any:
        # Only for names that are no field: a kept key of a Backend.AI section reads as an attribute too.
        extras = self.__dict__.get("extras")
        if extras is not None and name in extras:
            return extras[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.FIELDS) and (
            self.extras == other.extras  # type: ignore[attr-defined]
        )

    __hash__ = None  # type: ignore[assignment] - mutable: a reload updates it in place

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, field in self.FIELDS.items() if field.repr)
        return f"{type(self).__name__}({shown})"

    def values(self) -> dict[str, Any]:
        """Every field's value, nested models as dicts (a plain copy, e.g. for printing)."""
        return {
            name: value.values() if isinstance(value, Model) else value
            for name in self.FIELDS
            for value in [getattr(self, name)]
        }


def _add_check(field: Field, check: _Check) -> None:
    func = check.func.__func__ if isinstance(check.func, staticmethod) else check.func
    (field.before if check.mode == "before" else field.after).append(func)


def _call(func: Callable, value: Any, name: str, data: dict[str, Any]) -> Any:
    return func(value, CheckInfo(name, data)) if func.__code__.co_argcount == 2 else func(value)


def _validate(field: Field, raw: Any, location: Location, problems: Problems, data: dict[str, Any]) -> Any:
    try:
        for func in field.before:
            raw = _call(func, raw, field.name, data)
    except ValueError as exc:
        problems.append((location, str(exc)))
        return INVALID
    value = field._convert(raw, location, problems)  # type: ignore[misc]
    if value is INVALID:
        return INVALID
    problem = _bounds_problem(field, value)
    if problem is not None:
        problems.append((location, problem))
        return INVALID
    try:
        for func in field.after:
            value = _call(func, value, field.name, data)
    except ValueError as exc:
        problems.append((location, str(exc)))
        return INVALID
    return value


_OPS = {
    "ge": (lambda v, lim: v >= lim, "at least"),
    "gt": (lambda v, lim: v > lim, "more than"),
    "le": (lambda v, lim: v <= lim, "at most"),
    "lt": (lambda v, lim: v < lim, "less than"),
}


def _bounds_problem(field: Field, value: Any) -> str | None:
    if value is None:
        return None
    for op, limit in field.bounds:
        holds, words = _OPS[op]
        if not holds(value, limit):
            return f"must be {words} {limit:g}"
    if isinstance(value, str):
        if field.min_length is not None and len(value) < field.min_length:
            return f"must have at least {field.min_length} character{'s' * (field.min_length != 1)}"
        if field.max_length is not None and len(value) > field.max_length:
            return f"must have at most {field.max_length} characters"
        if field.pattern is not None and not field.pattern.search(value):
            return f"must match the pattern {field.pattern.pattern!r}"
    return None


def _resolve(annotation: Any, namespace: dict[str, Any]) -> Any:
    return eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307 - our own source
