"""Render a system, its diagnostics and the score history as short LLM inputs (OPRO/GEPA style).

Also :func:`keep_locks`, which puts a system's locked groups and rules back into a
revision, so that no proposer can change what a human fixed.
"""

from __future__ import annotations

import json
from typing import Any

from cotclip.systems.model import Group, System

__all__ = ["system_as_answer", "describe_scores", "describe_diagnostics", "describe_history", "keep_locks"]

_TOP = 6


def system_as_answer(system: System) -> dict[str, Any]:
    """The system in the answer format the LLM writes: rules name option texts."""
    groups = [{"name": g.name, "prompt": g.prompt, "options": list(g.options)} for g in system.groups]
    rules = {
        c: [{"group": g.name, "option": _option_text(system, c, g)} for g in system.groups] for c in system.classes
    }
    return {"groups": groups, "rules": rules}


def _option_text(system: System, class_name: str, group: Group) -> str | None:
    index = system.rule(class_name, group.name)
    return None if index is None else group.options[index]


def _option(system: System, group: str, index: int | None) -> str:
    try:
        return repr(system.group(group).options[index]) if index is not None else "null"
    except (KeyError, IndexError):
        return f"#{index}"


def describe_scores(system: System, diagnostics: Any, val_accuracy: float | None) -> str:
    """Held-out accuracy (when known), training accuracy and the weakest classes."""
    lines = [f"held-out accuracy: {val_accuracy:.3f}" if val_accuracy is not None else "held-out accuracy: unknown"]
    lines.append(f"training accuracy: {float(diagnostics.accuracy):.3f}")
    weakest = sorted(dict(diagnostics.per_class).items(), key=lambda item: item[1])[:_TOP]
    if weakest:
        lines.append("weakest classes: " + ", ".join(f"{c} {a:.2f}" for c, a in weakest))
    return "\n".join(lines)


def describe_diagnostics(system: System, diagnostics: Any) -> str:
    """Confusions, unreliable groups, disagreeing rules, identical signatures, unused options."""
    lines = ["confusions (true -> predicted: count):"]
    lines += [f"- {t} -> {p}: {n}" for t, p, n in list(diagnostics.confusions)[:_TOP]] or ["- none"]
    reliability = sorted(dict(diagnostics.group_reliability).items(), key=lambda item: item[1])
    lines.append("unreliable groups (share of images where the model's answer matches the rule):")
    lines += [f"- {g}: {r:.2f}" for g, r in reliability[:_TOP] if r < 0.6] or ["- none"]
    lines.append("disagreeing rules (class/group: rule option -> option the images favour, share):")
    lines += [
        f"- {c}/{g}: {_option(system, g, rule)} -> {_option(system, g, fav)} ({share:.2f})"
        for c, g, rule, fav, share in list(diagnostics.disagreeing_rules)[: 2 * _TOP]
    ] or ["- none"]
    identical = [", ".join(group) for group in diagnostics.identical_signatures]
    lines.append("identical signatures: " + ("; ".join(identical) if identical else "none"))
    unused = [
        f"{g}: {', '.join(map(repr, options))}" for g, options in dict(diagnostics.unused_options).items() if options
    ]
    lines.append("unused options: " + ("; ".join(unused) if unused else "none"))
    return "\n".join(lines)


def describe_history(history: list[Any], best: int = 3, worst: int = 2) -> str:
    """The best and worst earlier versions with their accuracy, move and groups."""
    if not history:
        return "no earlier versions"
    ranked = sorted(history, key=lambda v: v.val_accuracy, reverse=True)
    chosen = ranked[:best] + [v for v in ranked[-worst:] if v not in ranked[:best]]
    lines = []
    for version in chosen:
        groups = ", ".join(f"{g.name}[{len(g.options)}]" for g in version.system.groups)
        lines.append(
            f"- {version.system.name} ({version.move}): held-out accuracy {version.val_accuracy:.3f}; groups: {groups}"
        )
    return "\n".join(lines)


def compact_json(data: Any) -> str:
    """One-line JSON (short inputs keep small models within their context)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _option_index(options: list[str], text: str) -> int:
    """Where ``options`` holds ``text`` (compared as system validation does: stripped, any case); appended if absent."""
    wanted = text.strip().lower()
    for index, option in enumerate(options):
        if option.strip().lower() == wanted:
            return index
    options.append(text)
    return len(options) - 1


def keep_locks(original: System, revised: System) -> System:
    """``revised`` with ``original``'s locked groups/rules, scoring knobs and locks restored."""
    if not original.locks.groups and not original.locks.rules:
        return revised.evolve(scoring=original.scoring)
    data = revised.to_dict()
    groups = {g["name"]: g for g in data["groups"]}
    for name in original.locks.groups:
        groups[name] = original.group(name).model_dump(mode="json")
        for class_name in original.classes:
            data["rules"][class_name][name] = original.rule(class_name, name)
    for class_name, name in original.locks.rules:
        if name in original.locks.groups:
            continue
        if name not in groups:
            groups[name] = original.group(name).model_dump(mode="json")
            for other in original.classes:
                data["rules"][other][name] = original.rule(other, name)
            continue
        index = original.rule(class_name, name)
        if index is not None:
            index = _option_index(groups[name]["options"], original.group(name).options[index])
        data["rules"][class_name][name] = index
    data["groups"] = list(groups.values())
    data["scoring"] = original.scoring.model_dump(mode="json")
    data["locks"] = original.locks.model_dump(mode="json")
    return System.from_data(data)
