"""A JSON Schema (draft 2020-12) validator for the subset of keywords vecprop's file schemas use.

Why not the ``jsonschema`` package: reading a model file is part of a numpy-only core, and
``jsonschema`` brings attrs, referencing and a compiled rpds-py. The subset below is what
``model.schema.json`` uses; a keyword outside it is an error (so the schema cannot silently
use one this validator ignores), and a test checks that this validator and ``jsonschema``
agree on valid and mutated metadata.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources
from typing import Any

ANNOTATIONS = {"$schema", "$id", "title", "description"}
KEYWORDS = {"$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "maxProperties",
            "items", "minItems", "maxItems", "uniqueItems", "minimum", "exclusiveMinimum", "exclusiveMaximum",
            "minLength", "maxLength", "pattern", "anyOf", "$defs"}


class SchemaError(ValueError):
    """The instance does not match the schema; ``where`` is a JSON path such as ``$.model.task``."""

    def __init__(self, where: str, problem: str) -> None:
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


@lru_cache(maxsize=None)
def load_schema(name: str = "model.schema.json") -> dict[str, Any]:
    """A schema shipped inside the vecprop package."""
    return json.loads(resources.files("vecprop").joinpath(name).read_text(encoding="utf-8"))


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, where: str = "$") -> None:
    """Raise SchemaError at the first place ``instance`` breaks ``schema``."""
    root = schema if root is None else root
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise RuntimeError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported by vecprop._schema")
    if "$ref" in schema:
        validate(instance, _resolve(root, schema["$ref"]), root, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(instance, t) for t in types):
            raise SchemaError(where, f"expected {' or '.join(types)}; found {_kind(instance)}")
    if "const" in schema and _canon(instance) != _canon(schema["const"]):
        raise SchemaError(where, f"must be {schema['const']!r}; found {_short(instance)}")
    if "enum" in schema and _canon(instance) not in [_canon(v) for v in schema["enum"]]:
        raise SchemaError(where, f"must be one of {schema['enum']}; found {_short(instance)}")
    if "anyOf" in schema:
        errors = []
        for sub in schema["anyOf"]:
            try:
                validate(instance, sub, root, where)
                break
            except SchemaError as e:
                errors.append(e)
        else:
            # the error that got deepest; at equal depth, one from a branch of the right type
            raise min(errors, key=lambda e: (-len(e.where), e.problem.startswith("expected ")))
    if isinstance(instance, dict):
        _object(instance, schema, root, where)
    elif isinstance(instance, list):
        _array(instance, schema, root, where)
    elif isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            raise SchemaError(where, f"must have at least {schema['minLength']} characters")
        if len(instance) > schema.get("maxLength", math.inf):
            raise SchemaError(where, f"must have at most {schema['maxLength']} characters; found {len(instance)}")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            raise SchemaError(where, f"must match {schema['pattern']}; found {_short(instance)}")
    elif _is(instance, "number"):
        if "minimum" in schema and not instance >= schema["minimum"]:
            raise SchemaError(where, f"must be >= {schema['minimum']}; found {instance}")
        if "exclusiveMinimum" in schema and not instance > schema["exclusiveMinimum"]:
            raise SchemaError(where, f"must be > {schema['exclusiveMinimum']}; found {instance}")
        if "exclusiveMaximum" in schema and not instance < schema["exclusiveMaximum"]:
            raise SchemaError(where, f"must be < {schema['exclusiveMaximum']}; found {instance}")


def _object(instance: dict, schema: dict, root: dict, where: str) -> None:
    props = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in instance:
            raise SchemaError(where, f"lacks the required key {key!r}")
    if len(instance) > schema.get("maxProperties", math.inf):
        raise SchemaError(where, f"has {len(instance)} keys; at most {schema['maxProperties']} are allowed")
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        here = f"{where}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{where}[{key!r}]"
        if key in props:
            validate(value, props[key], root, here)
        elif extra is False:
            raise SchemaError(where, f"unknown key {key!r} (allowed: {', '.join(props)})")
        elif isinstance(extra, dict):
            validate(value, extra, root, here)


def _array(instance: list, schema: dict, root: dict, where: str) -> None:
    if len(instance) < schema.get("minItems", 0):
        raise SchemaError(where, f"must have at least {schema['minItems']} items; found {len(instance)}")
    if len(instance) > schema.get("maxItems", math.inf):
        raise SchemaError(where, f"must have at most {schema['maxItems']} items; found {len(instance)}")
    if schema.get("uniqueItems"):
        seen: set = set()
        for i, v in enumerate(instance):
            key = _canon(v)
            if key in seen:
                raise SchemaError(f"{where}[{i}]", f"repeats an earlier item ({_short(v)}); items must be unique")
            seen.add(key)
    if "items" in schema:
        for i, v in enumerate(instance):
            validate(v, schema["items"], root, f"{where}[{i}]")


def _resolve(root: dict, ref: str) -> dict:
    if not ref.startswith("#/"):
        raise RuntimeError(f"only local $refs are supported; got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _is(v: Any, t: str) -> bool:
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "integer":
        return number and (isinstance(v, int) or float(v).is_integer())
    if t == "number":
        return number
    raise RuntimeError(f"unknown JSON Schema type {t!r}")


def _canon(v: Any) -> Any:
    """A hashable key with JSON's equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return (type(v).__name__, v)
    if isinstance(v, (int, float)):
        return ("number", float(v) if not isinstance(v, int) or abs(v) < 2**53 else v)
    if isinstance(v, list):
        return ("array", tuple(_canon(x) for x in v))
    if isinstance(v, dict):
        return ("object", tuple(sorted((k, _canon(x)) for k, x in v.items())))
    return ("other", repr(v))


def _kind(v: Any) -> str:
    for t in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is(v, t):
            return t
    return type(v).__name__


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
