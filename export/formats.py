"""The JSON formats the apps read, checked against their JSON Schemas (golden/schema/, installed as
`meshpose_export/schemas/`): one contract for Python, MeshPoseKit and the Android core.

`check(doc, "sidecar")` validates a document with the `jsonschema` library and raises the format's
one-line error; `converter` (cattrs) turns the formats' dataclasses into JSON objects and back, so
no format is described by hand a second time.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import cattrs
import jsonschema

from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@cache
def schema(name: str) -> dict[str, Any]:
    """`name`: a file in golden/schema/ without `.schema.json` (`sidecar`, `bench-results`, `golden-crop`, ...)."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(
            f"the JSON Schema {path.name} is missing from {SCHEMA_DIR}; reinstall meshpose-mobile"
        ) from None


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name))


def first_error(doc: Any, name: str) -> jsonschema.ValidationError | None:
    """The most relevant violation of schema `name` by `doc` (None: it follows the schema)."""
    return jsonschema.exceptions.best_match(_validator(name).iter_errors(doc))


def where(error: jsonschema.ValidationError) -> str:
    """`input.height`, `rows[0].status`: the field a violation is in ('' for the whole document)."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")


def problem(doc: Any, name: str) -> str:
    """'' when `doc` follows the schema, else one line: where and what its most relevant violation is."""
    error = first_error(doc, name)
    if error is None:
        return ""
    return f"{where(error) or 'the document'}: {' '.join(error.message.split())[:160]}"


def check(doc: Any, name: str, error: type[ConfigError] = ConfigError, what: str = "") -> None:
    """Raise `error` with one line naming the first violation of schema `name`."""
    why = problem(doc, name)
    if why:
        raise error(f"{what or name} does not follow {name}.schema.json ({why})")


def _make_converter() -> cattrs.Converter:
    # JSON has lists, not tuples; dict fields (mesh, tracking, ...) pass through as they are. The
    # schema has already named what is wrong with a document: errors raised while structuring
    # (CropContract's own checks) propagate as they are, not wrapped in exception groups.
    conv = cattrs.Converter(unstruct_collection_overrides={tuple: list}, detailed_validation=False)
    conv.register_unstructure_hook(CropContract, lambda c: c.to_dict())
    conv.register_structure_hook(
        CropContract,
        lambda d, _t: CropContract(
            d["input_height"], d["input_width"], box_scale=d["box_scale"], border_value=d.get("border_value", 0.0)
        ),
    )
    return conv


converter = _make_converter()
