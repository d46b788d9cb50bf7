#!/usr/bin/env python3
"""Runs the schema resolution table through fastavro.

    fastavro_check.py CASES.json

For each case: writes the writer's datum (given in Avro's JSON encoding) in Avro binary
with the writer's schema, reads it back with the writer's and the reader's schema, and
prints one JSON line: {"name", "value"} with what fastavro read, in Avro's JSON encoding
of the reader's schema; {"name", "error"} when fastavro refuses; {"name", "setup"} when
the datum could not even be written (a fault of the table or of this script).

fastavro reads logical types into Python objects (datetime, Decimal, UUID); they are
written back as their underlying type with fastavro's own logical writers. It reads a
union value without telling which branch it took unless the branch is a named type;
for other branches the branch is the first one of the value's Python type.
"""

import datetime
import decimal
import io
import json
import sys
import uuid

import fastavro
from fastavro.write import LOGICAL_WRITERS

NAMED = ("record", "error", "enum", "fixed")


def parse(schema):
    named = {}
    return fastavro.parse_schema(schema, named_schemas=named), named


def resolved(schema, named):
    return named.get(schema, schema) if isinstance(schema, str) else schema


def type_of(schema):
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return schema["type"]


def branch_key(branch):
    """The union branch's name in Avro's JSON encoding (and fastavro's tuples)."""
    if isinstance(branch, dict):
        return branch["name"] if branch["type"] in NAMED else branch["type"]
    return branch


def from_json(value, schema, named):
    """A datum in Avro's JSON encoding as fastavro writes it (tuples for union branches)."""
    schema = resolved(schema, named)
    kind = type_of(schema)
    if kind == "union":
        if value is None:
            return None
        ((key, inner),) = value.items()
        for branch in schema:
            branch = resolved(branch, named)
            if branch_key(branch) == key:
                return (key, from_json(inner, branch, named))
        raise ValueError(f"no branch {key}")
    if kind in ("record", "error"):
        return {
            field["name"]: from_json(value[field["name"]], field["type"], named)
            for field in schema["fields"]
            if field["name"] in value
        }
    if kind == "array":
        return [from_json(v, schema["items"], named) for v in value]
    if kind == "map":
        return {k: from_json(v, schema["values"], named) for k, v in value.items()}
    if kind in ("bytes", "fixed"):
        return value.encode("latin-1")
    if kind in ("float", "double"):
        return float(value)
    return value


def python_branch(value, union, named):
    """The first branch of `union` of the Python type fastavro read `value` as."""
    for branch in union:
        branch = resolved(branch, named)
        kind = type_of(branch)
        logical = branch.get("logicalType") if isinstance(branch, dict) else None
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            fits = logical is not None and logical not in ("decimal", "uuid")
        elif isinstance(value, decimal.Decimal):
            fits = logical == "decimal"
        elif isinstance(value, uuid.UUID):
            fits = logical == "uuid"
        elif isinstance(value, bool):
            fits = kind == "boolean"
        elif isinstance(value, int):
            fits = kind in ("int", "long")
        elif isinstance(value, float):
            fits = kind in ("float", "double")
        elif isinstance(value, str):
            fits = kind == "string"
        elif isinstance(value, bytes):
            fits = kind == "bytes"
        elif isinstance(value, list):
            fits = kind == "array"
        elif isinstance(value, dict):
            fits = kind == "map"
        else:
            fits = False
        if fits:
            return branch
    return None


def to_json(value, schema, named):
    """What fastavro read, in Avro's JSON encoding of the reader's schema."""
    schema = resolved(schema, named)
    kind = type_of(schema)
    if kind == "union":
        if value is None:
            return None
        if isinstance(value, tuple):
            name, inner = value
            for branch in schema:
                branch = resolved(branch, named)
                if branch_key(branch) == name:
                    return {name: to_json(inner, branch, named)}
            raise ValueError(f"no branch {name}")
        branch = python_branch(value, schema, named)
        if branch is None:
            # No branch of the reader's union holds what fastavro returned: shown as
            # is, so the comparison names it.
            return {"(no branch)": repr(value)}
        return {branch_key(branch): to_json(value, branch, named)}
    if isinstance(value, tuple):  # a named type outside a union
        value = value[1]
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    writer = LOGICAL_WRITERS.get(f"{kind}-{logical}") if logical else None
    if writer is not None:
        value = writer(value, schema)
    if kind in ("record", "error"):
        # A field fastavro left out stays out, so that the comparison names it.
        return {
            f["name"]: to_json(value[f["name"]], f["type"], named)
            for f in schema["fields"]
            if f["name"] in value
        }
    if kind == "array":
        return [to_json(v, schema["items"], named) for v in value]
    if kind == "map":
        return {k: to_json(v, schema["values"], named) for k, v in value.items()}
    # A Python object the reader's schema does not describe (the writer's logical type
    # applied to a reader's plain type, a default left as JSON gave it) is shown as
    # is, so that the comparison names it.
    if kind in ("bytes", "fixed"):
        return value.decode("latin-1") if isinstance(value, bytes) else repr(value)
    if kind == "string":
        return value if isinstance(value, str) else repr(value)
    if kind in ("float", "double"):
        return float(value) if isinstance(value, (int, float)) else repr(value)
    if kind in ("int", "long"):
        return value if isinstance(value, int) else repr(value)
    return value


def run(case):
    out = {"name": case["name"]}
    try:
        writer, writer_names = parse(case["writer"])
        data = io.BytesIO()
        fastavro.schemaless_writer(data, writer, from_json(case["datum"], writer, writer_names))
    except Exception as error:  # reported to the Rust side, which fails the test
        out["setup"] = f"{type(error).__name__}: {error}"
        return out
    try:
        reader, reader_names = parse(case["reader"])
        body = io.BytesIO(data.getvalue())
        value = fastavro.schemaless_reader(
            body, writer, reader, return_record_name=True, return_named_type=True
        )
        if body.read(1):
            raise ValueError("trailing bytes after the datum")
    except Exception as error:  # an implementation's refusal is an outcome
        out["error"] = f"{type(error).__name__}: {error}"
        return out
    try:
        out["value"] = to_json(value, reader, reader_names)
    except Exception as error:  # reported to the Rust side, which fails the test
        out["setup"] = f"cannot render {value!r}: {type(error).__name__}: {error}"
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        table = json.load(f)
    for case in table["cases"]:
        print(json.dumps(run(case)))


if __name__ == "__main__":
    main()
