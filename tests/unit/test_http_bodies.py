"""Body field types take exactly the values their JSON Schema allows, no more and no fewer."""

from __future__ import annotations

from typing import Annotated, Any

import jsonschema_rs
import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from skyferry.http.bodies import JsonBool, JsonFloat, JsonInt, WholeNumber

VALUES: list[Any] = [0, 1, -7, 10.0, -0.0, 2.5, 1e300, "10", "2.5", "", True, False, None, [1], {}]


def _taken(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("kind", [JsonInt, JsonFloat, JsonBool])
def test_each_type_takes_what_its_schema_allows(kind: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    schema = jsonschema_rs.validator_for(adapter.json_schema())
    assert [value for value in VALUES if schema.is_valid(value) != _taken(adapter, value)] == []


def test_a_whole_number_with_a_point_becomes_an_int() -> None:
    value = TypeAdapter(JsonInt).validate_python(10.0)
    assert (value, type(value)) == (10, int)


Small = Annotated[int, Field(strict=True, ge=0, le=9), WholeNumber]


class Bounded(BaseModel):
    own: JsonInt = Field(default=0, ge=0, le=9)
    alias: Small = 0
    optional: Small | None = None


@pytest.mark.parametrize("field", ["own", "alias", "optional"])
def test_bounds_reach_the_schema_and_the_error_names_the_field(field: str) -> None:
    schema = Bounded.model_json_schema()["properties"][field]
    schema = schema["anyOf"][0] if field == "optional" else schema
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 0, 9)
    assert not {"ge", "le"} & set(schema)
    with pytest.raises(ValidationError) as raised:
        Bounded.model_validate({field: -1})
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]
    assert Bounded.model_validate({field: 9.0}).model_dump()[field] == 9
