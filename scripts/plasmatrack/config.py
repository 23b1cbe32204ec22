"""Loading the pipeline configuration: JSON-schema validation with defaults, then path resolution.

The same function serves the Snakemake rules (``common.smk``) and the CLI, so both see one config.
Relative paths in the config are resolved against the folder of the config file."""

from __future__ import annotations

import copy
import dataclasses
import difflib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import InputError

if TYPE_CHECKING:
    import jsonschema

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

# Config keys that hold file paths (dotted), resolved against the config file's folder; a
# list-valued key (cnv.exclude) has each of its paths resolved.
PATH_KEYS = ("samples", "clinical", "reference.fasta", "panel", "genes", "hotspots", "truth",
             "annotation",
             "cnv.exclude", "variants.exons", "variants.known_variants",
             "clonal.copy_number_table",
             "qc.identity.fingerprint_sites", "mrd.tumour_variants")


# libyaml's parser when PyYAML has it (same result, ~8x less CPU: the schema is read by every
# process that builds a settings dataclass, e.g. each per-sample job's start-up)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.load(handle, Loader=_SAFE_LOADER)


@lru_cache(maxsize=1)
def _schema() -> dict:
    return load_schema()


def schema_default(dotted: str) -> Any:
    """The schema's default of the config key ``dotted`` (e.g. ``"cnv.genes.z_min"``), a fresh
    copy. Raises KeyError for a key the schema does not declare or gives no default."""
    node = _schema()
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            raise KeyError(f"config key {dotted!r} is not in the schema")
    if "default" not in node:
        raise KeyError(f"config key {dotted!r} has no default in the schema")
    return copy.deepcopy(node["default"])


def _with_defaults(validator_class):
    """A validator that fills in schema defaults (as snakemake.utils.validate(set_default=True))."""
    import jsonschema

    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


@lru_cache(maxsize=1)
def _validator_class():
    """The defaults-filling Draft 7 validator, built on first use: jsonschema is imported only
    by processes that validate a config, not by every job that reads schema defaults."""
    import jsonschema

    return _with_defaults(jsonschema.Draft7Validator)


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


def unknown_key_message(source: str, key: str, known) -> str:
    """``source: key 'x' is not a known setting (did you mean 'y'?)``; ``key`` dotted, ``known``
    the names its mapping allows."""
    prefix, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean '{prefix + '.' if prefix else ''}{close[0]}'?)" if close else ""
    return f"{source}: key '{key}' is not a known setting{hint}"


def _cast_like(default: Any, value: Any) -> Any:
    """``value`` as the type of a field's scalar default (YAML's ``2000`` for a float field,
    a list for a tuple field); other values as they are."""
    if value is None or default is None:
        return value
    for kind in (bool, int, float, str, tuple):
        if isinstance(default, kind):
            return kind(value)
    return value


def settings_kwargs(cls, section: dict | None, where: str, names=None, strict: bool = True
                    ) -> dict:
    """Keyword arguments for the settings dataclass ``cls`` from the config mapping ``section``
    (config key ``where``): each of its fields present in ``section`` (only ``names`` when
    given), cast to the type of the field's default. Missing keys are left out, so the
    dataclass defaults (equal to the schema's, tests/unit/test_settings_schema.py) apply.
    ``strict``: a key of ``section`` that is no such field is an error naming the nearest."""
    section = dict(section or {})
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    wanted = set(defaults) if names is None else set(names)
    if strict:
        unknown = sorted(set(section) - wanted, key=str)
        if unknown:
            hints = [difflib.get_close_matches(str(k), list(wanted), n=1) for k in unknown]
            near = [f"'{k}' -> '{h[0]}'" for k, h in zip(unknown, hints) if h]
            raise InputError(f"config '{where}': unknown keys {unknown}"
                             + (f" (did you mean {', '.join(near)}?)" if near else ""))
    return {k: _cast_like(defaults[k], section[k]) for k in sorted(wanted & set(section))}


def _unknown_key_problems(err: jsonschema.ValidationError, source: str) -> list[str]:
    """One message per key that an ``additionalProperties: false`` error rejects, with the
    nearest known key of that mapping suggested."""
    known = list(err.schema.get("properties", {}))
    prefix = "".join(f"{p}." for p in err.path)
    problems = []
    for name in sorted(set(err.instance) - set(known), key=str):
        problems.append(unknown_key_message(source, f"{prefix}{name}", known))
    return problems


def _schema_problems(config: dict, source: str) -> list[str]:
    validator = _validator_class()(_schema())
    problems = []
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path]):
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            problems.extend(_unknown_key_problems(err, source))
        else:
            key = ".".join(str(p) for p in err.path) or "(top level)"
            problems.append(f"{source}: key '{key}': {err.message}")
    return problems


def _resolve(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))


def resolve_paths(config: dict, base_dir: str | Path) -> None:
    """Make every path of PATH_KEYS in ``config`` absolute, relative ones taken from
    ``base_dir`` (in place; unset and empty values stay as they are)."""
    base = Path(base_dir).resolve()
    for key in PATH_KEYS:
        value = _get(config, key)
        if isinstance(value, str) and value:
            _set(config, key, _resolve(value, base))
        elif isinstance(value, list):
            _set(config, key, [_resolve(v, base) if isinstance(v, str) and v else v
                               for v in value])


def prepare_config(config: dict, base_dir: str | Path, source: str = "config") -> dict:
    """Validate ``config`` in place against the schema (filling defaults) and make its paths
    absolute, relative paths taken from ``base_dir``. Raises InputError naming each bad key;
    a key the schema does not know is an error, with the nearest known key suggested."""
    problems = _schema_problems(config, source)
    if problems:
        raise InputError(problems)
    resolve_paths(config, base_dir)
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
