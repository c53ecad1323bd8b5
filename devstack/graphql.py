"""A tiny GraphQL executor for the Manager stand-in: just enough for the official Web UI's queries.

``parse`` reads the subset the Web UI sends (operations, aliases, arguments, variables, fragments,
``@skip``/``@include``) into plain :class:`Field` trees; ``execute`` projects a table of plain data
onto them.  There is no schema: a field the table lacks is ``null`` (nested selections and all), so
the answer always has the shape the query asked for.  Table values may be callables taking the
field's arguments (``dict``), for the few fields whose answer depends on them.

Only queries run; mutations and subscriptions get a request error.  The table itself lives in
:mod:`devstack.cluster`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class GraphQLSyntaxError(ValueError):
    pass


# --- parsing -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<block>\"\"\"(?:\\\"\"\"|[^\"]|\"(?!\"\"))*\"\"\")
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>\.\.\.|[!$&()\:=@\[\]{}|])
""",
    re.VERBOSE,
)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise GraphQLSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
        pos = match.end()
        if match.lastgroup != "skip":
            yield match.lastgroup or "", match.group()
    yield "eof", ""


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Field:
    name: str
    alias: str | None = None
    args: tuple[tuple[str, Any], ...] = ()
    selections: tuple[Field, ...] | None = None  # None: a leaf
    condition: tuple[tuple[str, Any], ...] = ()  # ("skip"|"include", value) pairs

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True)
class Operation:
    kind: str  # "query" | "mutation" | "subscription"
    name: str | None
    selections: tuple[Field, ...]
    defaults: tuple[tuple[str, Any], ...] = ()  # variable defaults


class Whole(dict):
    """A value answered in full whatever the selection (the devstack's own ``me`` field)."""


# A fragment spread or inline fragment is kept as a pseudo-field and inlined when executing.
_SPREAD = "..."


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = list(_tokens(text))
        self._pos = 0

    def _peek(self, value: str | None = None) -> bool:
        kind, text = self._tokens[self._pos]
        return kind != "eof" if value is None else text == value and kind in ("punct", "name")

    def _next(self, kind: str | None = None, value: str | None = None) -> str:
        got_kind, text = self._tokens[self._pos]
        if (kind and got_kind != kind) or (value and text != value) or got_kind == "eof":
            wanted = value or kind or "a token"
            raise GraphQLSyntaxError(f"expected {wanted}, got {text or 'end of query'!r}")
        self._pos += 1
        return text

    def _skip(self, value: str) -> bool:
        if self._peek(value):
            self._pos += 1
            return True
        return False

    def document(self) -> tuple[list[Operation], dict[str, tuple[Field, ...]]]:
        operations, fragments = [], {}
        while self._peek():
            if self._peek("{"):
                operations.append(Operation("query", None, self._selection_set()))
            elif self._skip("fragment"):
                name = self._next("name")
                self._next("name", "on")
                self._next("name")
                self._directives()
                fragments[name] = self._selection_set()
            else:
                kind = self._next("name")
                if kind not in ("query", "mutation", "subscription"):
                    raise GraphQLSyntaxError(f"unknown definition {kind!r}")
                name = None if self._peek("(") or self._peek("{") or self._peek("@") else self._next("name")
                defaults = []
                if self._skip("("):
                    while not self._skip(")"):  # variable definitions: $name: Type = default
                        self._next("punct", "$")
                        variable = self._next("name")
                        self._next("punct", ":")
                        self._type()
                        if self._skip("="):
                            defaults.append((variable, self._value()))
                self._directives()
                operations.append(Operation(kind, name, self._selection_set(), tuple(defaults)))
        if not operations:
            raise GraphQLSyntaxError("the document has no operation")
        return operations, fragments

    def _type(self) -> None:
        if self._skip("["):
            self._type()
            self._next("punct", "]")
        else:
            self._next("name")
        self._skip("!")

    def _selection_set(self) -> tuple[Field, ...]:
        self._next("punct", "{")
        fields = []
        while not self._skip("}"):
            fields.append(self._selection())
        if not fields:
            raise GraphQLSyntaxError("empty selection set")
        return tuple(fields)

    def _selection(self) -> Field:
        if self._skip("..."):
            if self._peek("on") or self._peek("{") or self._peek("@"):
                if self._skip("on"):
                    self._next("name")
                condition = self._directives()
                return Field(_SPREAD, selections=self._selection_set(), condition=condition)
            return Field(_SPREAD, alias=self._next("name"), condition=self._directives())
        name, alias = self._next("name"), None
        if self._skip(":"):
            name, alias = self._next("name"), name
        args = self._arguments()
        condition = self._directives()
        selections = self._selection_set() if self._peek("{") else None
        return Field(name, alias, args, selections, condition)

    def _arguments(self) -> tuple[tuple[str, Any], ...]:
        args = []
        if self._skip("("):
            while not self._skip(")"):
                name = self._next("name")
                self._next("punct", ":")
                args.append((name, self._value()))
        return tuple(args)

    def _directives(self) -> tuple[tuple[str, Any], ...]:
        conditions = []
        while self._skip("@"):
            name = self._next("name")
            args = dict(self._arguments())
            if name in ("skip", "include"):
                conditions.append((name, args.get("if")))
        return tuple(conditions)

    def _value(self) -> Any:
        kind, text = self._tokens[self._pos]
        if self._skip("$"):
            return Variable(self._next("name"))
        if self._skip("["):
            items = []
            while not self._skip("]"):
                items.append(self._value())
            return items
        if self._skip("{"):
            fields = {}
            while not self._skip("}"):
                name = self._next("name")
                self._next("punct", ":")
                fields[name] = self._value()
            return fields
        self._next()
        if kind == "string":
            return json.loads(text, strict=False)  # GraphQL strings may hold raw tabs
        if kind == "block":
            return text[3:-3].replace('\\"""', '"""')
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)  # enums stay strings
        raise GraphQLSyntaxError(f"unexpected {text!r} where a value belongs")


def parse(text: str, operation_name: str | None = None) -> tuple[Operation, dict[str, tuple[Field, ...]]]:
    """The operation to run (by name when several) and the document's fragments."""
    try:
        operations, fragments = _Parser(text).document()
    except RecursionError:
        raise GraphQLSyntaxError("the query is nested too deeply") from None
    if operation_name:
        named = [op for op in operations if op.name == operation_name]
        if not named:
            raise GraphQLSyntaxError(f"unknown operation {operation_name!r}")
        return named[0], fragments
    if len(operations) > 1:
        raise GraphQLSyntaxError("operationName is required when the document has several operations")
    return operations[0], fragments


# --- execution -----------------------------------------------------------------------------


def _bind(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, list):
        return [_bind(item, variables) for item in value]
    if isinstance(value, dict):
        return {name: _bind(item, variables) for name, item in value.items()}
    return value


class _Executor:
    def __init__(self, fragments: Mapping[str, tuple[Field, ...]], variables: Mapping[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables

    def _included(self, field: Field) -> bool:
        for directive, condition in field.condition:
            if bool(_bind(condition, self.variables)) != (directive == "include"):
                return False
        return True

    def _flatten(self, selections: tuple[Field, ...], seen: frozenset[str] = frozenset()) -> Iterator[Field]:
        for field in selections:
            if not self._included(field):
                continue
            if field.name != _SPREAD:
                yield field
            elif field.alias is None:
                yield from self._flatten(field.selections or (), seen)
            elif field.alias not in seen:  # named spread; a cycle is simply cut
                if field.alias not in self.fragments:
                    raise GraphQLSyntaxError(f"unknown fragment {field.alias!r}")
                yield from self._flatten(self.fragments[field.alias], seen | {field.alias})

    def project(self, value: Any, selections: tuple[Field, ...] | None) -> Any:
        if selections is None or value is None or isinstance(value, Whole):
            return value
        if isinstance(value, (list, tuple)):
            return [self.project(item, selections) for item in value]
        if not isinstance(value, Mapping):
            return None  # a scalar where an object was asked for: keep the shape, not the value
        out: dict[str, Any] = {}
        for field in self._flatten(selections):
            raw = value.get(field.name)
            if callable(raw):
                raw = raw({name: _bind(arg, self.variables) for name, arg in field.args})
            _merge(out, field.key, self.project(raw, field.selections))
        return out


def _merge(out: dict[str, Any], key: str, value: Any) -> None:
    """The same response key selected twice (fragments do that) yields one merged object."""
    old = out.get(key)
    if isinstance(old, dict) and isinstance(value, dict):
        for name, item in value.items():
            _merge(old, name, item)
    elif isinstance(old, list) and isinstance(value, list) and len(old) == len(value):
        for index, item in enumerate(value):
            if isinstance(old[index], dict) and isinstance(item, dict):
                for name, sub in item.items():
                    _merge(old[index], name, sub)
    else:
        out[key] = value


def execute(
    query: str, root: Mapping[str, Any], variables: Mapping[str, Any] | None = None, operation_name: str | None = None
) -> dict[str, Any]:
    """``{"data": ...}`` for the query against ``root``; raises GraphQLSyntaxError if unreadable."""
    operation, fragments = parse(query, operation_name)
    if operation.kind != "query":
        return {"data": None, "errors": [{"message": f"devstack: {operation.kind} operations are not supported"}]}
    executor = _Executor(fragments, dict(operation.defaults) | dict(variables or {}))
    return {"data": executor.project(root, operation.selections)}
