"""Knob search: the search space, one point in it, and the frozen result of a search.

Contract of a knob search (:func:`cotclip.optimizer.search.knob_search`):

* It changes only *scoring knobs* of a system: per-group weights, which groups are on
  (an "off" group is removed, together with its rules), the softmax temperature, the
  aggregation (``prob_sum`` / ``log_prob_sum``), the class-name prior weight, and which
  template variants from a provided pool each group carries (``Group.extra_prompts``;
  an option's embedding is the normalised mean over its templates). Options and rules
  are never edited, and a group locked in ``system.locks`` keeps its weight and
  templates and stays on.
* It scores every trial on one labelled :class:`~cotclip.scoring.scorer.ImageSet`
  (val) from similarities computed once before the first trial: a trial is a gather,
  a softmax and a weighted sum, and never calls the encoder.
* It has two objectives: val accuracy (maximise) and prompts per image (minimise),
  where prompts per image = text comparisons per image = the options of every group
  that is on, plus the number of classes when the name prior is on (template variants
  are averaged into one embedding per option at compile time, so they cost nothing
  per image). The result reports the Pareto front of the two.
* The first trial is always the system as given, so the best result is never worse
  on val than the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cotclip.systems.model import Aggregation, System

__all__ = ["SearchSpace", "Knobs", "ParetoPoint", "SearchResult", "SearchTiming"]


@dataclass(frozen=True)
class SearchSpace:
    """What the search may vary, and within which ranges.

    ``template_pool`` maps a group name to extra template variants (each with exactly
    one ``{}``) the search may add to that group, besides the group's own
    ``extra_prompts``; the group's main ``prompt`` is always used.
    """

    temperature: tuple[float, float] = (0.003, 3.0)
    weight: tuple[float, float] = (0.1, 4.0)
    name_prior_weight: tuple[float, float] = (0.01, 10.0)
    aggregations: tuple[Aggregation, ...] = ("prob_sum", "log_prob_sum")
    template_pool: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    search_name_prior: bool = True
    allow_removing_groups: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        data = dict(self.__dict__)
        data["template_pool"] = {g: list(t) for g, t in self.template_pool.items()}
        return data


@dataclass(frozen=True)
class Knobs:
    """One point of the search space: every scoring knob of a system.

    ``weights[g] == 0`` means group ``g`` is off (removed from the materialised system).
    ``templates[g]`` are the extra template variants group ``g`` carries.
    """

    temperature: float
    aggregation: Aggregation
    name_prior_weight: float
    weights: Mapping[str, float]
    templates: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, system: System) -> Knobs:
        """The knobs a system currently has."""
        return cls(
            temperature=system.scoring.temperature,
            aggregation=system.scoring.aggregation,
            name_prior_weight=system.scoring.name_prior_weight,
            weights={g.name: g.weight for g in system.groups},
            templates={g.name: tuple(g.extra_prompts) for g in system.groups},
        )

    def active_groups(self) -> list[str]:
        """Groups that are on, in system order."""
        return [g for g, w in self.weights.items() if w > 0]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "temperature": self.temperature,
            "aggregation": self.aggregation,
            "name_prior_weight": self.name_prior_weight,
            "weights": dict(self.weights),
            "templates": {g: list(t) for g, t in self.templates.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Knobs:
        """Inverse of :meth:`to_dict`."""
        return cls(
            float(data["temperature"]),
            data["aggregation"],
            float(data["name_prior_weight"]),
            dict(data["weights"]),
            {g: tuple(t) for g, t in data["templates"].items()},
        )


@dataclass(frozen=True)
class ParetoPoint:
    """A non-dominated trial: no other trial is as accurate with as few prompts and better in one."""

    trial: int
    accuracy: float
    prompts: int
    knobs: Knobs
    system: System

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the system as its canonical dict)."""
        return {
            "trial": self.trial,
            "accuracy": self.accuracy,
            "prompts": self.prompts,
            "knobs": self.knobs.to_dict(),
            "system": self.system.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoPoint:
        """Inverse of :meth:`to_dict` (the system is validated again)."""
        return cls(
            int(data["trial"]),
            float(data["accuracy"]),
            int(data["prompts"]),
            Knobs.from_dict(data["knobs"]),
            System.from_data(data["system"], source="pareto point"),
        )


@dataclass(frozen=True)
class SearchTiming:
    """Where the wall time of this process's trials went."""

    trials: int
    wall_s: float
    scoring_s: float

    @property
    def trials_per_s(self) -> float:
        """Trials finished by this process per second of wall time."""
        return self.trials / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def optuna_share(self) -> float:
        """Fraction of the wall time spent outside scoring (sampling, storage, bookkeeping)."""
        return 1.0 - self.scoring_s / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form with the derived rates."""
        return {
            "trials": self.trials,
            "wall_s": self.wall_s,
            "scoring_s": self.scoring_s,
            "trials_per_s": self.trials_per_s,
            "optuna_share": self.optuna_share,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchTiming:
        """Inverse of :meth:`to_dict` (the derived rates are recomputed)."""
        return cls(int(data["trials"]), float(data["wall_s"]), float(data["scoring_s"]))


@dataclass(frozen=True)
class SearchResult:
    """A finished knob search: the best system on val, the Pareto front, and timing.

    ``best`` is the front's most accurate point (ties: fewer prompts, then earlier trial).
    ``n_trials`` counts every complete trial in the study, from all workers.
    """

    study_name: str
    storage: str
    start_accuracy: float
    start_prompts: int
    best: ParetoPoint
    front: tuple[ParetoPoint, ...]
    n_trials: int
    timing: SearchTiming
    notes: tuple[str, ...] = ()

    @property
    def best_system(self) -> System:
        """The most accurate system found on val."""
        return self.best.system

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "study_name": self.study_name,
            "storage": self.storage,
            "start": {"accuracy": self.start_accuracy, "prompts": self.start_prompts},
            "best": self.best.to_dict(),
            "front": [p.to_dict() for p in self.front],
            "n_trials": self.n_trials,
            "timing": self.timing.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchResult:
        """Inverse of :meth:`to_dict`, e.g. to report a front stored as ``pareto.json``; extra keys are ignored."""
        front = tuple(ParetoPoint.from_dict(point) for point in data["front"])
        best = next((p for p in front if p.trial == data["best"]["trial"]), None) or ParetoPoint.from_dict(data["best"])
        return cls(
            study_name=str(data["study_name"]),
            storage=str(data["storage"]),
            start_accuracy=float(data["start"]["accuracy"]),
            start_prompts=int(data["start"]["prompts"]),
            best=best,
            front=front,
            n_trials=int(data["n_trials"]),
            timing=SearchTiming.from_dict(data["timing"]),
            notes=tuple(data.get("notes", ())),
        )
