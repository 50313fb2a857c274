"""Score many knob settings of one system on one image set without re-encoding anything.

:class:`KnobEvaluator` gathers, once, the cosine of every image with every prompt the
search can use (each option under each template of the pool) and the Gram matrix of
each option's template embeddings. A template subset then gives the option cosine
exactly as the scorer's averaged embedding would::

    cos(x, normalise(sum_t e_t)) = sum_t cos(x, e_t) / || sum_t e_t ||

so a trial is a gather, a softmax per group and a weighted sum, matching
:func:`cotclip.scoring.scorer.class_scores` of :meth:`KnobEvaluator.to_system`
(a test pins the equality).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotclip.optimizer.search._base import Knobs, SearchSpace
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.errors import CotclipError, InputError
from cotclip.systems.model import System

__all__ = ["KnobEvaluator", "Evaluation"]

_LOG_FLOOR = 1e-12  # the scorer's floor under log(probability)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and prompts per image of one knob setting."""

    accuracy: float
    prompts: int


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class _GroupTable:
    """One group's cosines under every template of its pool, and the templates' Gram matrices."""

    def __init__(self, system: System, group_index: int, pool: list[str], images: ImageSet) -> None:
        group = system.groups[group_index]
        self.name = group.name
        self.pool = pool
        self.n_options = len(group.options)
        texts = [template.replace("{}", option, 1) for option in group.options for template in pool]
        shape = (self.n_options, len(pool))
        self.cosines = images.similarities(texts).astype(np.float64).reshape(-1, *shape)
        self.gram = np.stack(
            [images.prompts.gram(texts[k * len(pool) : (k + 1) * len(pool)]) for k in range(self.n_options)]
        )
        rules = [system.rule(c, group.name) for c in system.classes]
        self.rule_options = np.array([0 if r is None else r for r in rules], dtype=np.int64)
        self.rule_mask = np.array([r is not None for r in rules], dtype=np.float64)
        self._by_templates: dict[tuple[str, ...], np.ndarray] = {}

    def option_cosines(self, extra_templates: tuple[str, ...]) -> np.ndarray:
        """``[N, k]`` cosines of the images with the options averaged over the chosen templates."""
        cached = self._by_templates.get(extra_templates)
        if cached is None:
            chosen = {self.pool[0], *extra_templates}
            mask = np.array([t in chosen for t in self.pool], dtype=np.float64)
            norms = np.sqrt(np.einsum("t,kts,s->k", mask, self.gram, mask))
            cached = (self.cosines @ mask) / norms
            self._by_templates[extra_templates] = cached
        return cached


class KnobEvaluator:
    """Val accuracy and prompt count of any :class:`Knobs` of ``system`` on ``images``.

    Construction embeds what is missing (through the image set's memoised prompt
    embedder); :meth:`evaluate` never touches the encoder.
    """

    def __init__(self, system: System, images: ImageSet, space: SearchSpace | None = None) -> None:
        self.system = system
        self.space = space or SearchSpace()
        unknown = sorted(set(self.space.template_pool) - set(system.group_names))
        if unknown:
            raise InputError(f"template pool names unknown group(s) {unknown}; use groups of the system")
        self.labels = images.label_indices(system.classes)
        self.groups = [_GroupTable(system, i, self._pool(g.name), images) for i, g in enumerate(system.groups)]
        self.name_cosines: np.ndarray | None = None
        self.notes: list[str] = []
        if system.scoring.name_prior_weight > 0 or self.space.search_name_prior:
            self.name_cosines = self._name_cosines(images)

    def _pool(self, group_name: str) -> list[str]:
        group = self.system.group(group_name)
        pool = [group.prompt, *group.extra_prompts, *self.space.template_pool.get(group_name, ())]
        for template in pool:
            if template.count("{}") != 1:
                raise InputError(f"template {template!r} for group {group_name!r} needs exactly one {{}}; fix the pool")
        return list(dict.fromkeys(pool))

    def _name_cosines(self, images: ImageSet) -> np.ndarray | None:
        template = self.system.scoring.name_template
        texts = [template.replace("{}", c, 1) for c in self.system.classes]
        try:
            return images.similarities(texts).astype(np.float64)
        except CotclipError as exc:
            if self.system.scoring.name_prior_weight > 0:
                raise
            self.notes.append(f"name prior not searched: the class-name prompts cannot be embedded ({exc.message})")
            return None

    def variants(self, group_name: str) -> list[str]:
        """Template variants the search may switch on for a group (its pool minus the main prompt)."""
        return next(t.pool[1:] for t in self.groups if t.name == group_name)

    def prompts(self, knobs: Knobs) -> int:
        """Text comparisons per image: options of the groups that are on, plus classes for the name prior."""
        total = sum(t.n_options for t in self.groups if knobs.weights.get(t.name, 0.0) > 0)
        return total + (len(self.system.classes) if knobs.name_prior_weight > 0 else 0)

    def scores(self, knobs: Knobs) -> np.ndarray:
        """``[N, C]`` class scores, equal to the scorer's on :meth:`to_system`."""
        scores = np.zeros((self.labels.size, len(self.system.classes)))
        for table in self.groups:
            weight = knobs.weights.get(table.name, 0.0)
            if weight <= 0:
                continue
            cosines = table.option_cosines(tuple(knobs.templates.get(table.name, ())))
            probabilities = _softmax(cosines / knobs.temperature)
            if knobs.aggregation == "log_prob_sum":
                probabilities = np.log(np.maximum(probabilities, _LOG_FLOOR))
            scores += probabilities[:, table.rule_options] * (weight * table.rule_mask)
        if knobs.name_prior_weight > 0:
            if self.name_cosines is None:
                raise InputError("the name prior needs class-name prompt embeddings; use an encoder that embeds text")
            prior = _softmax(self.name_cosines / knobs.temperature)
            if knobs.aggregation == "log_prob_sum":
                prior = np.log(np.maximum(prior, _LOG_FLOOR))
            scores += knobs.name_prior_weight * prior
        return scores

    def evaluate(self, knobs: Knobs) -> Evaluation:
        """Accuracy on the image set (ties -> first class) and prompts per image."""
        predictions = np.argmax(self.scores(knobs), axis=1)
        accuracy = float(np.mean(predictions == self.labels)) if self.labels.size else 0.0
        return Evaluation(accuracy, self.prompts(knobs))

    def to_system(self, knobs: Knobs, method: str = "knob-search", details: dict | None = None) -> System:
        """The valid system these knobs describe (groups that are off are removed with their rules)."""
        data = self.system.to_dict()
        groups = []
        for group in data["groups"]:
            weight = knobs.weights.get(group["name"], 0.0)
            if weight > 0:
                groups.append(
                    {**group, "weight": weight, "extra_prompts": list(knobs.templates.get(group["name"], ()))}
                )
        kept = {g["name"] for g in groups}
        data["groups"] = groups
        data["rules"] = {c: {g: i for g, i in rule.items() if g in kept} for c, rule in data["rules"].items()}
        data["scoring"] = {
            **data["scoring"],
            "temperature": knobs.temperature,
            "aggregation": knobs.aggregation,
            "name_prior_weight": knobs.name_prior_weight,
        }
        data["provenance"] = {"parent": self.system.fingerprint(), "method": method, "details": details or {}}
        return System.from_data(data)
