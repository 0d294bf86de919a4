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

from pydantic import BaseModel, BeforeValidator, Discriminator, Field, Tag


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


BATCH_LIMIT = 1000
"""The most items a submit route takes as one JSON list: the batch is one transaction, and the
answer lists every job, so a bigger one would hold a transaction and build a body without
bound."""

ONE_OR_MANY_TAGS = frozenset({"skyferry:one", "skyferry:many"})
"""The tags ``one_or_many`` picks its member by. Pydantic puts the tag after ``body`` in an
error's ``loc``; the 422 handler takes it out, so an error reads as it would for a route that
takes only one object or only a list."""


def _one_or_many(value: Any) -> str:
    return "skyferry:many" if isinstance(value, list) else "skyferry:one"


def one_or_many(params: type[BaseModel]) -> Any:
    """The body of a submit route that takes one ``params`` object or a JSON list of them, at
    most ``BATCH_LIMIT`` (a longer or empty list is a 422 like any invalid body). The body's
    shape picks the member, so an invalid object is reported as the object's errors alone
    (``body.steps``), not as well as "not a list"."""
    many = Annotated[list[params], Field(min_length=1, max_length=BATCH_LIMIT)]  # type: ignore[valid-type]
    return Annotated[
        Annotated[params, Tag("skyferry:one")] | Annotated[many, Tag("skyferry:many")],
        Discriminator(_one_or_many),
    ]
