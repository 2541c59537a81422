"""Which JSON Schema features grammar-constrained decoding enforces.

The engine turns a schema into a grammar; a keyword the grammar cannot express would be silently
ignored and the output could violate the schema, so such schemas are refused up front, naming the
keywords. Supported: the structure keywords below, local ``$ref`` into ``$defs``/``definitions``, and
annotations (ignored, as validators ignore them).
"""

from __future__ import annotations

import json
from typing import Any

ENFORCED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "$ref",
        "$defs",
        "definitions",
    }
)
ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly"}
)
# Keywords whose value is a map of names to schemas, or a list of schemas.
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "prefixItems")
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def parse_schema(text_or_value: Any) -> dict[str, Any] | bool:
    return json.loads(text_or_value) if isinstance(text_or_value, str) else text_or_value


def unsupported_features(schema: Any) -> list[str]:
    """The unsupported keywords (as JSON-pointer-ish paths) in ``schema``; empty when it is enforceable."""
    found: list[str] = []
    _walk(schema, "", found)
    return found


def _walk(schema: Any, path: str, found: list[str]) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        found.append(f"{path or '/'} (a schema must be an object or a boolean)")
        return
    for key, value in schema.items():
        where = f"{path}/{key}"
        if key in ANNOTATIONS:
            continue
        if key not in ENFORCED:
            found.append(where)
            continue
        if key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            found.append(f"{where} (only local references, starting with #)")
        elif key == "type":
            kinds = value if isinstance(value, list) else [value]
            if not kinds or any(k not in _TYPES for k in kinds):
                found.append(f"{where} ({value!r})")
        elif key in _SCHEMA_MAPS:
            if isinstance(value, dict):
                for name, sub in value.items():
                    _walk(sub, f"{where}/{name}", found)
        elif key in _SCHEMA_LISTS:
            if isinstance(value, list):
                for index, sub in enumerate(value):
                    _walk(sub, f"{where}/{index}", found)
        elif key in ("items", "additionalProperties"):
            _walk(value, where, found)
