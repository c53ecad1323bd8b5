"""contract.fields: the declarative engine the configuration is made of, checked without any file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from contract.fields import Field, Invalid, Model, describe, field_check, model_check


class Inner(Model, extra="forbid"):
    size: int = Field(1, ge=1, le=10, description="A bounded integer.")


class Sample(Model, extra="forbid"):
    count: int = Field(2, ge=1, le=64, description="An integer in [1, 64].")
    ratio: float = Field(1.0, gt=0, lt=5, description="A number in (0, 5).")
    flag: bool = Field(False, description="A boolean.")
    name: str = Field("x", min_length=1, max_length=5, pattern=r"^[a-z]+$", description="A short word.")
    where: Path = Field(Path("/tmp"), description="A path.")
    maybe: Path | None = Field(None, description="An optional path.")
    mode: Literal["a", "b"] = Field("a", description="One of two words.")
    items: list[str] = Field(default_factory=list, description="A list of strings.")
    limits: dict[str, int] = Field(default_factory=dict, description="Integers by name.")
    anything: Any = Field(None, description="Whatever the table holds.")
    inner: Inner = Field(default_factory=Inner, description="A nested table.")

    _split = field_check("items", mode="before")(lambda value: value.split(",") if isinstance(value, str) else value)

    @field_check("items")
    def _stripped(items: list[str]) -> list[str]:
        return [item.strip() for item in items]


class Kept(Model, extra="allow"):
    low: int = Field(0, description="The lower end.")
    high: int = Field(10, description="The upper end.")

    @field_check("high")
    def _above_low(high: int, info) -> int:
        if high < info.data.get("low", high):
            raise ValueError("must not be below low")
        return high

    @model_check
    def _not_equal(self) -> None:
        if self.low == self.high:
            raise ValueError("low and high must differ")


def problems_of(model: type[Model], table: dict[str, Any]) -> list[str]:
    found: list = []
    model.build(table, ("t",), found)
    return [describe(location, message) for location, message in found]


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("count", 5, 5),
        ("count", "7", 7),  # a numeric string, as a hand-written file may have it
        ("count", 3.0, 3),
        ("ratio", 2, 2.0),
        ("ratio", " 1.5 ", 1.5),
        ("flag", True, True),
        ("flag", "yes", True),
        ("flag", "off", False),
        ("flag", 1, True),
        ("where", "/srv/x", Path("/srv/x")),
        ("maybe", None, None),
        ("maybe", "/a", Path("/a")),
        ("mode", "b", "b"),
        ("items", "a, b,c", ["a", "b", "c"]),
        ("items", ["a", " b"], ["a", "b"]),
        ("limits", {"x": "3"}, {"x": 3}),
        ("anything", {"deep": [1]}, {"deep": [1]}),
    ],
)
def test_values_are_converted_as_a_toml_file_needs(key: str, given: Any, expected: Any):
    value = getattr(Sample(**{key: given}), key)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("key", "given", "problem"),
    [
        ("count", 0, "t.count: must be at least 1"),
        ("count", 65, "t.count: must be at most 64"),
        ("count", True, "t.count: must be an integer, not a boolean"),
        ("count", 2.5, "t.count: must be an integer (a whole number), not a number"),
        ("count", "many", "t.count: must be an integer, not 'many'"),
        ("ratio", 0, "t.ratio: must be more than 0"),
        ("ratio", 5, "t.ratio: must be less than 5"),
        ("ratio", [1], "t.ratio: must be a number, not a list"),
        ("ratio", float("nan"), "t.ratio: must be a finite number, not nan"),
        ("ratio", "inf", "t.ratio: must be a finite number, not inf"),
        ("flag", "maybe", "t.flag: must be true or false, not a string"),
        ("name", "", "t.name: must have at least 1 character"),
        ("name", "abcdef", "t.name: must have at most 5 characters"),
        ("name", "A", "t.name: must match the pattern '^[a-z]+$'"),
        ("name", 5, "t.name: must be a string, not an integer"),
        ("where", 5, "t.where: must be a path (a string), not an integer"),
        ("mode", "c", "t.mode: must be 'a' or 'b', not 'c'"),
        ("items", 3, "t.items: must be a list, not an integer"),
        ("items", ["a", 2], "t.items.1: must be a string, not an integer"),
        ("limits", {"x": "y"}, "t.limits.x: must be an integer, not 'y'"),
        ("limits", [], "t.limits: must be a table, not a list"),
        ("inner", {"size": 11}, "t.inner.size: must be at most 10"),
        ("inner", "big", "t.inner: must be a table, not a string"),
        ("colour", "blue", "t.colour: unknown key"),
    ],
)
def test_wrong_values_are_refused_by_key(key: str, given: Any, problem: str):
    assert problems_of(Sample, {key: given}) == [problem]


def test_every_problem_is_reported_at_once():
    table = {"count": 0, "flag": "maybe", "inner": {"size": 0, "extra": 1}, "colour": "blue"}
    assert sorted(problems_of(Sample, table)) == [
        "t.colour: unknown key",
        "t.count: must be at least 1",
        "t.flag: must be true or false, not a string",
        "t.inner.extra: unknown key",
        "t.inner.size: must be at least 1",
    ]
    with pytest.raises(Invalid) as caught:
        Sample(count=0, ratio=0)
    assert [location for location, _ in caught.value.problems] == [("count",), ("ratio",)]


def test_fields_set_names_what_the_table_wrote():
    sample = Sample.build({"count": 3, "inner": {}}, (), [])
    assert sample.fields_set == {"count", "inner"} and sample.inner.fields_set == set()
    assert Sample().fields_set == set() and Sample().count == 2  # defaults fill the rest


def test_allowed_extras_are_kept_and_forbidden_ones_refused():
    kept = Kept.build({"low": 1, "webui_debug": True, "resources": {"x": 1}}, (), [])
    assert kept.extras == {"webui_debug": True, "resources": {"x": 1}} and kept.webui_debug is True
    assert kept.fields_set == {"low"}
    with pytest.raises(AttributeError):
        _ = kept.unknown
    assert problems_of(Inner, {"size": 2, "webui_debug": True}) == ["t.webui_debug: unknown key"]


def test_checks_see_earlier_fields_and_model_rules_run_once_fields_are_valid():
    assert problems_of(Kept, {"low": 5, "high": 3}) == ["t.high: must not be below low"]
    assert problems_of(Kept, {"low": 5, "high": 5}) == ["t: low and high must differ"]
    # A field problem stops the model rule: only the field is reported.
    assert problems_of(Kept, {"low": "x", "high": 0}) == ["t.low: must be an integer, not 'x'"]


def test_defaults_are_checked_and_factories_give_fresh_values():
    first, second = Sample(), Sample()
    first.items.append("a")
    assert second.items == []
    with pytest.raises(Invalid, match="must be at least 1"):

        class Broken(Model):
            size: int = Field(0, ge=1)

        Broken()


def test_models_compare_by_value_and_hide_secret_fields():
    class Secret(Model):
        user: str = Field("u")
        password: str = Field("p", repr=False)

    assert Secret() == Secret(user="u") and Secret() != Secret(password="q")
    assert "password" not in repr(Secret()) and "user='u'" in repr(Secret())
    assert Kept(shown=1) != Kept(shown=2)  # kept keys count too
    assert Sample(count=3).values()["inner"] == {"size": 1}


def test_a_field_knows_its_description_and_nested_model():
    assert Sample.FIELDS["count"].description == "An integer in [1, 64]."
    assert Sample.FIELDS["inner"].model is Inner and Sample.FIELDS["count"].model is None
    assert list(Sample.FIELDS)[:3] == ["count", "ratio", "flag"]  # declaration order: the order of problems


def test_a_type_the_engine_cannot_check_is_refused_when_declared():
    with pytest.raises(TypeError, match=r"only X \| None unions"):

        class Either(Model):
            value: int | str = Field(0)

    with pytest.raises(TypeError, match="unsupported field type"):

        class Odd(Model):
            value: complex = Field(0j)


def test_a_field_without_default_is_required():
    class Named(Model):
        name: str = Field(description="No default.")

    assert problems_of(Named, {}) == ["t.name: is required"]
    assert Named(name="x").name == "x"


def test_a_subclass_checks_inherited_fields_without_changing_its_parent():
    class Loud(Inner):
        @field_check("size")
        def _even(size: int) -> int:
            if size % 2:
                raise ValueError("must be even")
            return size

    assert problems_of(Loud, {"size": 3}) == ["t.size: must be even"]
    assert problems_of(Inner, {"size": 3}) == [] and Loud.FIELDS["size"].description == "A bounded integer."
