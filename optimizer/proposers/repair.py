"""Repair raw LLM answers into valid systems, recording every fix (pure functions).

Pipeline: :func:`parse_answer` (text -> mapping, see :mod:`._parse`) ->
:func:`read_draft` (mapping -> :class:`Draft`: groups and rules cleaned against the
task's classes and size limits) -> optionally :func:`add_rules` for classes the
answer forgot -> :func:`draft_to_system` (validated :class:`System`).

Fixes, each recorded as one line: JSON/Python-dict/fenced/truncated text; named
placeholders (``{color}``) -> ``{}``; duplicate options merged (rules remapped);
options holding braces (a copied template) dropped;
too many groups/options cut; rule values given as index, digit string, option text
(any case/spacing) or the filled sentence; index out of range, unknown option text,
unknown group or unknown class -> rule dropped (null); classes without any rule
-> asked again by the caller or set to null. Rejected: groups whose template has no
single ``{}``, or fewer than two distinct options. No usable group ->
:class:`UnusableAnswerError` (its message is fed back to the LLM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from cotclip.optimizer.proposers._parse import ParsedAnswer, UnusableAnswerError, parse_answer
from cotclip.systems.model import System

__all__ = [
    "DraftGroup",
    "Draft",
    "ParsedAnswer",
    "UnusableAnswerError",
    "parse_answer",
    "read_draft",
    "add_rules",
    "draft_to_system",
    "normalize_text",
]

_GROUP_KEYS = ("groups", "classification_groups", "classification_cot", "attribute_groups", "questions")
_CLASS_KEYS = ("class_name", "class", "name", "label")
_CHOICE_KEYS = ("choices", "answers", "rules", "options", "attributes")
_NULL_WORDS = {"", "null", "none", "n/a", "na", "unknown", "-"}
_NAMED_PLACEHOLDER = re.compile(r"\{[^{}]{1,30}\}|<[A-Za-z_ ]{1,30}>|\[[A-Za-z_ ]{1,30}\]")


@dataclass(frozen=True)
class DraftGroup:
    """A cleaned group: a template with exactly one ``{}`` and >= 2 distinct options."""

    name: str
    prompt: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Draft:
    """A repaired answer before validation; ``missing_classes`` got no rule at all."""

    groups: tuple[DraftGroup, ...]
    rules: dict[str, dict[str, int | None]]
    missing_classes: tuple[str, ...]
    repairs: tuple[str, ...]


def normalize_text(text: str) -> str:
    """Case- and spacing-insensitive form used to match names and option texts."""
    return " ".join(str(text).replace("_", " ").split()).strip(" .,;:'\"").casefold()


def _unwrap(data: dict[str, Any], repairs: list[str]) -> dict[str, Any]:
    """Step into ``{"answer": {...}}``-style wrappers (DSPy's output field and the like)."""
    for _ in range(3):
        if any(key in data for key in _GROUP_KEYS):
            return data
        inner = [value for value in data.values() if isinstance(value, dict)]
        if len(data) == 1 and inner:
            key = next(iter(data))
            if key != "answer":
                repairs.append(f"unwrapped the answer from key {key!r}")
            data = inner[0]
    return data


def _group_specs(data: dict[str, Any]) -> list[tuple[str, Any]]:
    raw = next((data[key] for key in _GROUP_KEYS if key in data), None)
    if isinstance(raw, dict):
        return [(str(name), spec) for name, spec in raw.items()]
    if isinstance(raw, list):
        return [
            (str(spec.get("name") or f"group_{i + 1}") if isinstance(spec, dict) else f"group_{i + 1}", spec)
            for i, spec in enumerate(raw)
        ]
    return []


def _fix_template(name: str, prompt: Any, repairs: list[str]) -> str | None:
    if not isinstance(prompt, str):
        repairs.append(f"group {name!r}: rejected (no prompt template)")
        return None
    prompt = " ".join(prompt.split())
    if prompt.count("{}") == 1:
        return prompt
    named = _NAMED_PLACEHOLDER.findall(prompt)
    if prompt.count("{}") == 0 and len(named) == 1:
        repairs.append(f"group {name!r}: placeholder {named[0]} replaced by {{}}")
        return prompt.replace(named[0], "{}")
    repairs.append(f"group {name!r}: rejected (template {prompt!r:.60} needs exactly one {{}})")
    return None


def _clean_options(name: str, raw: Any, max_options: int, repairs: list[str]) -> tuple[list[str], dict[int, int]]:
    """Distinct options and the map old index -> kept index (merged duplicates share one)."""
    options: list[str] = []
    remap: dict[int, int] = {}
    seen: dict[str, int] = {}
    for index, option in enumerate(raw if isinstance(raw, list) else []):
        text = " ".join(str(option).split()) if option is not None else ""
        key = normalize_text(text)
        if not key:
            repairs.append(f"group {name!r}: empty option {index} dropped")
        elif "{" in text or "}" in text:
            repairs.append(f"group {name!r}: option {text!r:.40} holds a placeholder; dropped")
        elif key in seen:
            remap[index] = seen[key]
            repairs.append(f"group {name!r}: duplicate option {text!r} merged")
        elif len(options) >= max_options:
            repairs.append(f"group {name!r}: option {text!r} dropped (more than {max_options} options)")
        else:
            seen[key] = remap[index] = len(options)
            options.append(text)
    return options, remap


def _read_groups(data, max_groups, max_options, repairs) -> tuple[list[DraftGroup], dict[str, dict[int, int]], set]:
    groups: list[DraftGroup] = []
    remaps: dict[str, dict[int, int]] = {}
    rejected: set[str] = set()
    for name, spec in _group_specs(data):
        name = " ".join(name.split()) or f"group_{len(groups) + 1}"
        spec = spec if isinstance(spec, dict) else {}
        prompt = _fix_template(name, spec.get("prompt", spec.get("template", spec.get("question"))), repairs)
        options, remap = _clean_options(name, spec.get("options", spec.get("values")), max_options, repairs)
        if prompt is not None and len(options) < 2:
            repairs.append(f"group {name!r}: rejected (fewer than two distinct options)")
            prompt = None
        if prompt is not None and normalize_text(name) in {normalize_text(g.name) for g in groups}:
            repairs.append(f"group {name!r}: rejected (defined twice)")
            prompt = None
        if prompt is not None and len(groups) >= max_groups:
            repairs.append(f"group {name!r}: dropped (more than {max_groups} groups)")
            prompt = None
        if prompt is None:
            rejected.add(normalize_text(name))
            continue
        groups.append(DraftGroup(name, prompt, tuple(options)))
        remaps[name] = remap
    return groups, remaps, rejected


def _resolve_option(value: Any, group: DraftGroup, remap: dict[int, int], where: str, repairs: list[str]) -> int | None:
    """The option index a rule value means, or None (recording why it was dropped)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        value = next((value[k] for k in ("option", "index", "value", "answer") if k in value), None)
    if value is None or (isinstance(value, str) and normalize_text(value) in _NULL_WORDS):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        repairs.append(f"{where}: index given as text {value.strip()!r}")
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        repairs.append(f"{where}: value {value!r:.40} is not an option; rule dropped (null)")
        return None
    if isinstance(value, int):
        if value in remap:
            return remap[value]
        repairs.append(f"{where}: index {value} out of range; rule dropped (null)")
        return None
    return _match_option_text(value, group, where, repairs)


def _match_option_text(value: str, group: DraftGroup, where: str, repairs: list[str]) -> int | None:
    wanted = normalize_text(value)
    for index, option in enumerate(group.options):
        if option == value:
            return index
        if normalize_text(option) == wanted:
            repairs.append(f"{where}: option {value!r} matched {option!r} ignoring case/spacing")
            return index
    contained = [(len(o), i) for i, o in enumerate(group.options) if normalize_text(o) in wanted]
    if contained:
        index = max(contained)[1]
        repairs.append(f"{where}: option {value!r:.50} read as {group.options[index]!r}")
        return index
    repairs.append(f"{where}: unknown option {value!r:.50}; rule dropped (null)")
    return None


def _rule_entries(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(class name, raw rule) pairs from a dict or a list of rule records."""
    key = "rules" if "rules" in data else next((k for k in data if str(k).endswith("rules")), None)
    raw = data.get(key) if key is not None else None
    if isinstance(raw, dict):
        return [(str(name), rule) for name, rule in raw.items()]
    entries = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            name = next((item[k] for k in _CLASS_KEYS if k in item), None)
            rule = next((item[k] for k in _CHOICE_KEYS if k in item), None)
            if name is not None:
                entries.append((str(name), rule))
    return entries


def _as_group_values(rule: Any, groups: list[DraftGroup], where: str, repairs: list[str]) -> list[tuple[str, Any]]:
    if isinstance(rule, dict):
        return [(str(g), v) for g, v in rule.items()]
    if isinstance(rule, list) and all(isinstance(item, dict) and "group" in item for item in rule):
        return [(str(item["group"]), item.get("option", item.get("index"))) for item in rule]
    if isinstance(rule, list) and len(rule) == len(groups):
        repairs.append(f"{where}: rule given as a list; read it in group order")
        return [(g.name, v) for g, v in zip(groups, rule)]
    repairs.append(f"{where}: rule {rule!r:.40} is unreadable; dropped")
    return []


def _read_rules(data, classes, groups, remaps, rejected, repairs) -> dict[str, dict[str, int | None]]:
    by_class = {normalize_text(c): c for c in classes}
    by_group = {normalize_text(g.name): g for g in groups}
    rules: dict[str, dict[str, int | None]] = {}
    for raw_name, rule in _rule_entries(data):
        name = raw_name if raw_name in classes else by_class.get(normalize_text(raw_name))
        if name is None:
            repairs.append(f"rules: unknown class {raw_name!r:.40} dropped")
            continue
        if name != raw_name:
            repairs.append(f"rules: class {raw_name!r} matched {name!r} ignoring case/spacing")
        chosen = rules.setdefault(name, {})
        for raw_group, value in _as_group_values(rule, groups, f"rule {name!r}", repairs):
            group = by_group.get(normalize_text(raw_group))
            if group is None:
                if normalize_text(raw_group) not in rejected:
                    repairs.append(f"rule {name!r}: unknown group {raw_group!r:.40} dropped")
                continue
            if group.name not in chosen or chosen[group.name] is None:
                where = f"rule {name!r}/{group.name!r}"
                chosen[group.name] = _resolve_option(value, group, remaps[group.name], where, repairs)
    return rules


def read_draft(data: dict[str, Any], classes: list[str], *, max_groups: int, max_options: int) -> Draft:
    """Clean a parsed answer against ``classes`` and the size limits (see module doc)."""
    repairs: list[str] = []
    data = _unwrap(data, repairs)
    groups, remaps, rejected = _read_groups(data, max_groups, max_options, repairs)
    if not groups:
        detail = "; ".join(repairs[-3:]) if repairs else "no `groups` list found"
        raise UnusableAnswerError(
            f"the answer has no usable group ({detail}); give `groups` with a `prompt` containing one {{}} "
            "and at least two `options` each"
        )
    rules = _read_rules(data, classes, groups, remaps, rejected, repairs)
    missing = tuple(c for c in classes if c not in rules)
    return Draft(tuple(groups), rules, missing, tuple(repairs))


def add_rules(draft: Draft, data: dict[str, Any]) -> Draft:
    """Fill the draft's missing classes from a second answer holding rules only."""
    repairs: list[str] = []
    data = data if "rules" in data else {"rules": data}
    groups = list(draft.groups)
    remaps = {g.name: {i: i for i in range(len(g.options))} for g in groups}
    found = _read_rules(data, list(draft.missing_classes), groups, remaps, set(), repairs)
    still_missing = tuple(c for c in draft.missing_classes if c not in found)
    repairs.append(f"asked again for rules of {len(draft.missing_classes)} class(es); got {len(found)}")
    return replace(
        draft, rules={**draft.rules, **found}, missing_classes=still_missing, repairs=draft.repairs + tuple(repairs)
    )


def draft_to_system(draft: Draft, classes: list[str], *, name: str, provenance: dict[str, Any]) -> System:
    """A validated system; classes still missing and unanswered groups get null rules (recorded)."""
    repairs = list(draft.repairs)
    if draft.missing_classes:
        repairs.append(f"no rules for {', '.join(map(repr, draft.missing_classes))}; set to null")
    unanswered = sum(1 for c in classes for g in draft.groups if draft.rules.get(c, {}).get(g.name) is None)
    if unanswered:
        repairs.append(f"{unanswered} (class, group) rule(s) have no valid answer; left null")
    details = {**provenance.get("details", {}), "repairs": repairs}
    data = {
        "name": name,
        "classes": list(classes),
        "groups": [{"name": g.name, "prompt": g.prompt, "options": list(g.options)} for g in draft.groups],
        "rules": {c: {g.name: draft.rules.get(c, {}).get(g.name) for g in draft.groups} for c in classes},
        "provenance": {**provenance, "details": details},
    }
    return System.from_data(data)
