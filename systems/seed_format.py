"""The seed article's system format, imported and exported without loss.

The article ("Scaling Test-Time Compute For Embedding Models", Jina AI) writes a system as::

    {"classification_cot": {group: {"prompt": "... {} ...", "options": [...]}},
     "pokemon_rules": {class: {group: option_index}}}

Its LLM prompt says ``classification_groups`` instead of ``classification_cot``, and the
rules may sit under any key ending in ``_rules``. The classes are the rules dict's keys in
order; a group missing from a class's rules is a null rule. The whole dict may also be
wrapped once, as in ``{"pokemon_system": {...}}``.

Import records what the canonical :class:`~cotclip.systems.model.System` has no field for
(the key names, key orders, explicit nulls, unknown extra keys, the wrapper) in
``provenance.details["seed_layout"]``; export replays it, so import -> export reproduces
the input dict. What the article's format cannot say (scoring settings, locks, notes, a
provenance, a name the rules key cannot carry) is exported in one extra top-level object
``"cotclip"``, which the article's own code ignores and import reads back.
"""

from __future__ import annotations

import re
from typing import Any

from cotclip.systems.errors import SystemValidationError
from cotclip.systems.model import Provenance, ScoringConfig, System

__all__ = [
    "GROUPS_KEYS",
    "RULES_SUFFIX",
    "EXTRA_BLOCK_KEY",
    "LAYOUT_KEY",
    "IMPORT_METHOD",
    "is_seed_data",
    "seed_to_canonical",
    "import_seed",
    "export_seed",
]

GROUPS_KEYS = ("classification_cot", "classification_groups")
RULES_SUFFIX = "_rules"
EXTRA_BLOCK_KEY = "cotclip"
LAYOUT_KEY = "seed_layout"
IMPORT_METHOD = "import:seed"
_GROUP_FIELDS = ("prompt", "options", "weight", "extra_prompts")
_BLOCK_FIELDS = ("name", "scoring", "provenance", "locks", "notes")


def _unwrap(data: Any) -> tuple[dict[str, Any], str | None] | None:
    """The seed dict and the key of its one-entry wrapper (None when unwrapped)."""
    if not isinstance(data, dict) or "format" in data or isinstance(data.get("groups"), list):
        return None  # canonical data, even if it also carries a seed key by mistake
    if any(key in data for key in GROUPS_KEYS):
        return data, None
    if len(data) == 1:
        ((wrapper, inner),) = data.items()
        if isinstance(inner, dict) and any(key in inner for key in GROUPS_KEYS):
            return inner, wrapper
    return None


def is_seed_data(data: Any) -> bool:
    """Whether ``data`` is in the article's format (possibly wrapped once)."""
    return _unwrap(data) is not None


def _single_key(keys: list[str], what: str, fix: str, source: str | None) -> str:
    if len(keys) != 1:
        found = ", ".join(repr(k) for k in keys) or "none"
        message = f"a seed-format system needs exactly one {what} (found {found}); {fix}"
        raise SystemValidationError([message], source=source)
    return keys[0]


def _derived_name(rules_key: str) -> str:
    return rules_key[: -len(RULES_SUFFIX)] or "system"


def _structure_errors(groups: Any, rules: Any, block: Any, names: tuple[str, str]) -> list[str]:
    groups_key, rules_key = names
    errors = []
    if not isinstance(groups, dict):
        errors.append(f"{groups_key} must map group names to {{prompt, options}}, got {type(groups).__name__}")
    else:
        for name, spec in groups.items():
            if not isinstance(spec, dict):
                kind = type(spec).__name__
                errors.append(f"{groups_key}[{name!r}] must be an object with prompt and options, got {kind}")
    if not isinstance(rules, dict):
        errors.append(f"{rules_key} must map class names to {{group: option index}}, got {type(rules).__name__}")
    else:
        for name, rule in rules.items():
            if not isinstance(rule, dict):
                kind = type(rule).__name__
                errors.append(f"{rules_key}[{name!r}] must map group names to option indices, got {kind}")
    if not isinstance(block, dict):
        errors.append(f"{EXTRA_BLOCK_KEY!r} must be an object with {', '.join(_BLOCK_FIELDS)}")
    else:
        errors += [
            f"{EXTRA_BLOCK_KEY!r} has unknown key {key!r}; allowed: {', '.join(_BLOCK_FIELDS)}"
            for key in block
            if key not in _BLOCK_FIELDS
        ]
    return errors


def _default_group_keys(spec: dict[str, Any]) -> list[str]:
    keys = ["prompt", "options"]
    if spec.get("weight", 1.0) != 1.0:
        keys.append("weight")
    if spec.get("extra_prompts"):
        keys.append("extra_prompts")
    return keys


def _import_groups(groups: dict[str, Any], layout: dict[str, Any]) -> list[dict[str, Any]]:
    canonical = []
    for name, spec in groups.items():
        canonical.append({"name": name, **{k: spec[k] for k in _GROUP_FIELDS if k in spec}})
        record: dict[str, Any] = {}
        if list(spec) != _default_group_keys(spec):
            record["keys"] = list(spec)
        extra = {k: v for k, v in spec.items() if k not in _GROUP_FIELDS}
        if extra:
            record["extra"] = extra
        if record:
            layout.setdefault("groups", {})[name] = record
    return canonical


def _import_rules(rules: dict[str, Any], group_names: list[str], layout: dict[str, Any]) -> dict[str, Any]:
    for class_name, rule in rules.items():
        default_keys = [g for g in group_names if rule.get(g) is not None]
        if list(rule) != default_keys:
            layout.setdefault("rule_keys", {})[class_name] = list(rule)
    return {class_name: dict(rule) for class_name, rule in rules.items()}


def _import_provenance(block: dict[str, Any], layout: dict[str, Any]) -> Any:
    provenance = block.get("provenance", {"method": IMPORT_METHOD})
    if not isinstance(provenance, dict) or not isinstance(provenance.get("details", {}), dict):
        return provenance  # wrong type: left for the canonical validation to report
    return {**provenance, "details": {**provenance.get("details", {}), LAYOUT_KEY: layout}}


def seed_to_canonical(data: Any, source: str | None = None) -> dict[str, Any]:
    """Convert seed-format data to canonical system data (not yet validated).

    Raises :class:`SystemValidationError` when the seed structure itself is broken; type
    and semantic problems inside groups and rules are left to canonical validation.
    """
    unwrapped = _unwrap(data)
    if unwrapped is None:
        raise SystemValidationError(
            [f"not a seed-format system: it needs a key {' or '.join(GROUPS_KEYS)} and one ending in {RULES_SUFFIX}"],
            source=source,
        )
    seed, wrapper = unwrapped
    groups_key = _single_key([k for k in seed if k in GROUPS_KEYS], "groups dict", "keep one of them", source)
    rules_key = _single_key(
        [k for k in seed if isinstance(k, str) and k.endswith(RULES_SUFFIX)],
        f"rules dict (a key ending in {RULES_SUFFIX})",
        "add one such as pokemon_rules, or rename the extra ones",
        source,
    )
    groups, rules, block = seed[groups_key], seed[rules_key], seed.get(EXTRA_BLOCK_KEY, {})
    errors = _structure_errors(groups, rules, block, (groups_key, rules_key))
    if errors:
        raise SystemValidationError(errors, source=source)

    layout: dict[str, Any] = {"groups_key": groups_key, "rules_key": rules_key}
    if wrapper is not None:
        layout["wrapper"] = wrapper
    default_keys = [groups_key, rules_key] + ([EXTRA_BLOCK_KEY] if EXTRA_BLOCK_KEY in seed else [])
    if list(seed) != default_keys:
        layout["keys"] = list(seed)
    extra = {k: v for k, v in seed.items() if k not in default_keys}
    if extra:
        layout["extra"] = extra
    canonical_groups = _import_groups(groups, layout)
    canonical_rules = _import_rules(rules, list(groups), layout)
    canonical: dict[str, Any] = {
        "name": block.get("name", _derived_name(rules_key)),
        "classes": list(rules),
        "groups": canonical_groups,
        "rules": canonical_rules,
    }
    canonical.update({key: block[key] for key in ("scoring", "locks", "notes") if key in block})
    canonical["provenance"] = _import_provenance(block, layout)
    return canonical


def import_seed(data: Any, source: str | None = None) -> System:
    """A validated :class:`System` from seed-format data (see the module docstring)."""
    return System.from_data(seed_to_canonical(data, source=source), source=source)


# ----- export ----------------------------------------------------------------------------
def _ordered(values: dict[str, Any], recorded: Any) -> dict[str, Any]:
    """``values`` in the recorded key order; keys not recorded follow in their own order."""
    order = [k for k in recorded if k in values] if isinstance(recorded, list) else []
    return {key: values[key] for key in order + [k for k in values if k not in order]}


def _layout_of(system: System) -> dict[str, Any]:
    layout = system.provenance.details.get(LAYOUT_KEY, {})
    if not isinstance(layout, dict):
        raise SystemValidationError(
            [f"provenance.details.{LAYOUT_KEY} must be an object written by seed import; delete it to export afresh"]
        )
    return layout


def _export_groups(system: System, layout: dict[str, Any]) -> dict[str, Any]:
    records = layout.get("groups", {})
    exported = {}
    for group in system.groups:
        record = records.get(group.name, {}) if isinstance(records, dict) else {}
        keys = record.get("keys", [])
        values: dict[str, Any] = {"prompt": group.prompt, "options": list(group.options)}
        if group.weight != 1.0 or "weight" in keys:
            values["weight"] = group.weight
        if group.extra_prompts or "extra_prompts" in keys:
            values["extra_prompts"] = list(group.extra_prompts)
        values.update(record.get("extra", {}))
        exported[group.name] = _ordered(values, keys)
    return exported


def _export_rules(system: System, layout: dict[str, Any]) -> dict[str, Any]:
    recorded = layout.get("rule_keys", {})
    recorded = recorded if isinstance(recorded, dict) else {}
    exported = {}
    for class_name in system.classes:
        keys = recorded.get(class_name, [])
        values = {
            g.name: system.rule(class_name, g.name)
            for g in system.groups
            if system.rule(class_name, g.name) is not None or g.name in keys
        }
        exported[class_name] = _ordered(values, keys)
    return exported


def _extra_block(system: System, rules_key: str) -> dict[str, Any]:
    """What the article's format cannot carry, written minimal (defaults left out)."""
    block: dict[str, Any] = {}
    if system.name != _derived_name(rules_key):
        block["name"] = system.name
    if system.scoring != ScoringConfig():
        block["scoring"] = system.scoring.model_dump(mode="json", exclude_defaults=True)
    details = {k: v for k, v in system.provenance.details.items() if k != LAYOUT_KEY}
    provenance = system.provenance.model_copy(update={"details": details})
    if provenance != Provenance(method=IMPORT_METHOD):
        block["provenance"] = {"method": provenance.method, **provenance.model_dump(mode="json", exclude_defaults=True)}
    if system.locks.groups or system.locks.rules:
        block["locks"] = system.to_dict()["locks"]
    if system.notes:
        block["notes"] = list(system.notes)
    return block


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "system"


def export_seed(system: System) -> dict[str, Any]:
    """The system as a seed-format dict; replays a recorded import layout when present."""
    layout = _layout_of(system)
    groups_key = layout.get("groups_key", GROUPS_KEYS[0])
    rules_key = layout.get("rules_key", f"{_slug(system.name)}{RULES_SUFFIX}")
    values: dict[str, Any] = {groups_key: _export_groups(system, layout), rules_key: _export_rules(system, layout)}
    values.update(layout.get("extra", {}))
    block = _extra_block(system, rules_key)
    if block:
        values[EXTRA_BLOCK_KEY] = block
    seed = _ordered(values, layout.get("keys"))
    wrapper = layout.get("wrapper")
    return {wrapper: seed} if isinstance(wrapper, str) else seed
