"""JSON-schema checks against the schemas shipped beside this module (``schemas/README.md``
names their sources), so ``--check`` needs no network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parent / "schemas"


@cache
def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def problems(document: Any, schema: str, where: str) -> list[str]:
    """Every way ``document`` breaks ``schema``, each naming the file and the path inside it."""
    import jsonschema  # the deploy extra: only --check needs it

    # both shipped schemas are draft-07; the Compose one spells its $schema with https, which
    # jsonschema does not recognise, so the draft is named here rather than looked up
    validator = jsonschema.Draft7Validator(
        _schema(schema), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(part) for part in error.absolute_path) or "(root)"
        found.append(f"{where}: {path}: {error.message}")
    return found
