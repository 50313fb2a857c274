"""Semantic checks of a typed system: errors make it unusable, warnings do not.

Each message is one line naming the class, group and index involved and the fix.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cotclip.systems.model import SystemFields

__all__ = ["semantic_errors", "semantic_warnings"]


def _template_errors(where: str, template: str) -> list[str]:
    count = template.count("{}")
    if count != 1:
        return [f"{where} {template!r} must contain exactly one {{}} placeholder (found {count})"]
    return []


def _group_errors(system: SystemFields) -> list[str]:
    errors: list[str] = []
    if not system.groups:
        errors.append("the system has no groups; add at least one group with a prompt and options")
    seen_groups: set[str] = set()
    for group in system.groups:
        if not group.name.strip():
            errors.append("a group has an empty name; give every group a unique name")
        if group.name in seen_groups:
            errors.append(f"group {group.name!r} is defined twice; group names must be unique")
        seen_groups.add(group.name)
        for template in group.templates:
            errors += _template_errors(f"group {group.name!r}: prompt", template)
        if not group.options:
            errors.append(f"group {group.name!r} has no options; give it at least two")
        seen_options: set[str] = set()
        for index, option in enumerate(group.options):
            if not option.strip():
                errors.append(f"group {group.name!r}: option {index} is empty; remove it or write the option text")
            elif option.strip().lower() in seen_options:
                errors.append(
                    f"group {group.name!r}: option {index} {option!r} duplicates an earlier option; merge them"
                )
            seen_options.add(option.strip().lower())
    return errors


def _class_errors(system: SystemFields) -> list[str]:
    errors: list[str] = []
    if not system.classes:
        errors.append("the system has no classes; list at least two class names")
    seen: set[str] = set()
    for name in system.classes:
        if not name.strip():
            errors.append("a class name is empty; every class needs a name")
        if name in seen:
            errors.append(f"class {name!r} is listed twice; class names must be unique")
        seen.add(name)
    return errors


def _rule_errors(system: SystemFields) -> list[str]:
    errors: list[str] = []
    options_of = {g.name: len(g.options) for g in system.groups}
    known_classes = set(system.classes)
    for class_name in system.classes:
        if class_name not in system.rules:
            errors.append(f"class {class_name!r} has no rule; add rules[{class_name!r}] (null per group if unknown)")
    for class_name, rule in system.rules.items():
        if class_name not in known_classes:
            errors.append(f"rules name unknown class {class_name!r}; add it to `classes` or delete its rule")
            continue
        for group_name, index in rule.items():
            if group_name not in options_of:
                errors.append(
                    f"rule {class_name!r} names unknown group {group_name!r}; known groups: {', '.join(options_of)}"
                )
            elif index is not None and not 0 <= index < options_of[group_name]:
                errors.append(
                    f"rule {class_name!r}/{group_name!r} = {index} is out of range; "
                    f"use 0..{options_of[group_name] - 1} or null"
                )
    return errors


def _lock_errors(system: SystemFields) -> list[str]:
    errors: list[str] = []
    names = {g.name for g in system.groups}
    for group_name in system.locks.groups:
        if group_name not in names:
            errors.append(f"locks name unknown group {group_name!r}; unlock it or fix the name")
    for class_name, group_name in system.locks.rules:
        if class_name not in system.classes or group_name not in names:
            errors.append(f"locked rule ({class_name!r}, {group_name!r}) names an unknown class or group")
    return errors


def semantic_errors(system: SystemFields) -> list[str]:
    """Every problem that makes the system unusable for scoring."""
    errors = _class_errors(system) + _group_errors(system) + _rule_errors(system) + _lock_errors(system)
    errors += _template_errors("scoring.name_template", system.scoring.name_template)
    return errors


def _signature(system: SystemFields, class_name: str) -> tuple[int | None, ...]:
    rule = system.rules.get(class_name, {})
    return tuple(rule.get(g.name) for g in system.groups)


def semantic_warnings(system: SystemFields) -> list[str]:
    """Problems that leave the system usable but weaker than it could be."""
    warnings: list[str] = []
    by_signature: dict[tuple[int | None, ...], list[str]] = defaultdict(list)
    for class_name in system.classes:
        by_signature[_signature(system, class_name)].append(class_name)
    for classes in by_signature.values():
        if len(classes) > 1:
            warnings.append(
                f"classes {', '.join(repr(c) for c in classes)} have identical rules and can never be told apart; "
                "give one of them a different option in some group"
            )
    for class_name in system.classes:
        if all(index is None for index in _signature(system, class_name)):
            warnings.append(f"class {class_name!r} has only null rules; it can only win through the name prior")
    for group in system.groups:
        picked = [system.rules.get(c, {}).get(group.name) for c in system.classes]
        used = {i for i in picked if i is not None}
        for index, option in enumerate(group.options):
            if index not in used:
                warnings.append(f"group {group.name!r}: option {index} {option!r} is used by no class")
        if len(set(picked)) <= 1:
            warnings.append(f"group {group.name!r} gives every class the same answer and does not split them")
    return warnings
