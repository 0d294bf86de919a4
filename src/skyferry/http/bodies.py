"""Field types for JSON request bodies that take exactly what their JSON Schema says.

Pydantic's default (lax) mode also takes ``"10"`` for an integer, ``"0.5"`` for a number and
``0`` or ``"yes"`` for a boolean, none of which the schema allows; its strict mode refuses
``10.0``, which JSON Schema counts an integer. By the 400-vs-422 rule
(``skyferry.http.problems``) a body that matches its schema is never a 422 and one that does not
always is, so these take JSON's own types: an integer is a number without a fraction, a number
is any number (not a boolean), a boolean is ``true`` or ``false``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _whole_number(value: Any) -> Any:
    """10.0 is the integer 10, as JSON Schema reads it; anything else is left to strict int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
"""For an integer type of one's own, after its constraints: ``Annotated[int, Field(strict=True,
ge=0), WholeNumber]``. Put before them, pydantic checks the constraints apart from the integer
and its JSON Schema loses them (``ge`` instead of ``minimum``)."""

JsonInt = Annotated[int, Field(strict=True), WholeNumber]
"""An integer field; its bounds go in the field's own ``Field(ge=..., le=...)``."""
JsonFloat = Annotated[float, Field(strict=True)]
JsonBool = Annotated[bool, Field(strict=True)]
