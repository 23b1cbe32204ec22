"""Loading the pipeline configuration: JSON-schema validation with defaults, then path resolution.

The same function serves the Snakemake rules (``common.smk``) and the CLI, so both see one config.
Relative paths in the config are resolved against the folder of the config file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

# Config keys that hold file paths (dotted), resolved against the config file's folder.
PATH_KEYS = ("samples", "clinical", "reference.fasta", "panel", "genes", "hotspots", "truth",
             "variants.exons", "variants.known_variants")


def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _with_defaults(validator_class):
    """A validator that fills in schema defaults (as snakemake.utils.validate(set_default=True))."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def _get(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(config: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = config
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def prepare_config(config: dict, base_dir: str | Path, source: str = "config") -> dict:
    """Validate ``config`` in place against the schema (filling defaults) and make its paths
    absolute, relative paths taken from ``base_dir``. Raises InputError naming each bad key."""
    validator = _Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    if errors:
        problems = []
        for err in errors:
            key = ".".join(str(p) for p in err.path) or "(top level)"
            problems.append(f"{source}: key '{key}': {err.message}")
        raise InputError(problems)
    base = Path(base_dir).resolve()
    for key in PATH_KEYS:
        value = _get(config, key)
        if isinstance(value, str) and value:
            path = Path(value).expanduser()
            _set(config, key, str(path if path.is_absolute() else (base / path)))
    return config


def load_config(path: str | Path) -> dict:
    """Read a YAML config file, validate it with defaults, resolve its paths (CLI entry point)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise InputError(f"{path}: the config must be a mapping of keys to values")
    return prepare_config(config, path.parent, source=str(path))
