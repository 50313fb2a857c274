"""The planted-attribute world: a seeded SIMULATION of out-of-distribution classes seen by a frozen encoder.

What it models. Every class has one hidden true value per attribute group, taken from
built-in English vocabularies (:mod:`.vocab`); some classes come in confusable pairs that
differ in a single group. An image of class ``c`` embeds as the unit-length sum of

* the concept vectors of its true values, each scaled by its group's ``visibility``
  (the encoder sees colour well, a small trait poorly),
* ``identity_strength`` times a class-identity vector (what the name could tap into),
* ``nuisance.strength`` times a style vector drawn per image (pose, art style, scene),
* isotropic noise of expected length ``noise``.

A text embeds by meaning through :class:`.text.TextModel`: a known surface form lands
near its concept vector, a synonym a little further, a template adds a shared offset,
an unknown phrase is a seeded random vector, and a class name aligns with the identity
vector only by ``name_alignment`` (low = OOD names, as Pokemon names are for CLIP).

What it does not model: pixels, real language understanding, attribute interactions,
or label noise. It exists so that the optimizer can be tested and benchmarked offline on
a task with a known optimum (:meth:`World.oracle_system`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from cotclip.scoring.simulation.config import WorldConfig, read_world_config
from cotclip.scoring.simulation.geometry import (
    GEOMETRY_VERSION,
    ImagePlan,
    hashed_unit_vector,
    image_embeddings,
    seeded_rng,
    unit_rows,
)
from cotclip.scoring.simulation.text import TextModel, normalize_text
from cotclip.scoring.simulation.vocab import VOCABULARIES, fantasy_names
from cotclip.systems.errors import DataError

if TYPE_CHECKING:
    from cotclip.systems.model import System

__all__ = ["WorldGroup", "World", "load_world", "world_hash"]


@dataclass(frozen=True)
class WorldGroup:
    """One attribute group of a world: its values (canonical phrases) and visibility."""

    name: str
    prompt: str
    note_clause: str
    values: tuple[str, ...]
    surface_forms: tuple[tuple[str, ...], ...]
    visibility: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "prompt": self.prompt,
            "visibility": self.visibility,
            "values": list(self.values),
            "surface_forms": [list(forms) for forms in self.surface_forms],
        }


def world_hash(config: WorldConfig) -> str:
    """16 hex digits identifying every number the world produces."""
    payload = json.dumps({"geometry": GEOMETRY_VERSION, "config": config.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _assign_signatures(
    rng: np.random.Generator, n_classes: int, sizes: list[int], confusable_fraction: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Distinct value indices per class, and the pairs of classes that differ in one group only.

    Classes ``2k`` and ``2k + 1`` are planted as a pair for the first
    ``round(confusable_fraction * n_classes / 2)`` values of ``k``; when every one-group
    variation of a class is taken (tiny worlds), its partner is drawn freely instead.
    """
    n_pairs = int(round(confusable_fraction * n_classes / 2))
    taken: set[tuple[int, ...]] = set()
    rows: list[tuple[int, ...]] = []
    pairs: list[tuple[int, int]] = []
    attempts = 0
    while len(rows) < n_classes:
        attempts += 1
        partner = len(rows) % 2 == 1 and len(rows) < 2 * n_pairs and attempts < 100
        if partner:
            candidate = list(rows[-1])
            group = int(rng.integers(len(sizes)))
            candidate[group] = (candidate[group] + 1 + int(rng.integers(sizes[group] - 1))) % sizes[group]
        else:
            candidate = [int(rng.integers(size)) for size in sizes]
        if tuple(candidate) not in taken:
            if partner:
                pairs.append((len(rows) - 1, len(rows)))
            taken.add(tuple(candidate))
            rows.append(tuple(candidate))
            attempts = 0
    return np.array(rows, dtype=np.int64).reshape(n_classes, len(sizes)), pairs


class World:
    """A built world: classes, groups, true attributes, images and the text model.

    ``classes`` and ``groups`` are in config order; ``signatures[c, g]`` is class ``c``'s
    true value index in group ``g``; image ``i`` shows ``labels[i]``
    (``label_indices[i]`` in ``classes``), ``images_per_class`` consecutive images per class.
    Geometry (concept vectors, image embeddings, the text model) is computed on first use.
    """

    def __init__(self, config: WorldConfig, name: str = "world"):
        self.config = config
        self.name = name
        self.hash = world_hash(config)
        rng = seeded_rng(config.seed, "structure")
        self.groups = [self._build_group(rng, index) for index in range(len(config.groups))]
        self._group_position = {group.name: position for position, group in enumerate(self.groups)}
        known = frozenset(normalize_text(f) for v in VOCABULARIES.values() for row in v.values for f in row)
        names = config.classes if isinstance(config.classes, list) else fantasy_names(config.classes, rng, known)
        self.classes: list[str] = list(names)
        self._class_index = {name: i for i, name in enumerate(self.classes)}
        sizes = [len(group.values) for group in self.groups]
        self.signatures, pairs = _assign_signatures(rng, len(self.classes), sizes, config.confusable_fraction)
        self.confusable_pairs = [(self.classes[a], self.classes[b]) for a, b in pairs]
        self.label_indices = np.repeat(np.arange(len(self.classes)), config.images_per_class)
        self.labels = [self.classes[i] for i in self.label_indices]

    def _build_group(self, rng: np.random.Generator, index: int) -> WorldGroup:
        spec = self.config.groups[index]
        vocab = VOCABULARIES[spec.name]
        chosen = sorted(int(i) for i in rng.choice(len(vocab.values), size=spec.values, replace=False))
        return WorldGroup(
            name=spec.name,
            prompt=vocab.prompt,
            note_clause=vocab.note_clause,
            values=tuple(vocab.values[i][0] for i in chosen),
            surface_forms=tuple(vocab.values[i][: self.config.surface_forms] for i in chosen),
            visibility=spec.visibility,
        )

    # ----- the hidden truth -------------------------------------------------------------
    def group(self, name: str) -> WorldGroup:
        """The group called ``name`` (DataError naming the known groups if absent)."""
        if name in self._group_position:
            return self.groups[self._group_position[name]]
        raise DataError(
            f"world {self.name} has no group {name!r}; its groups are {', '.join(g.name for g in self.groups)}"
        )

    def class_index(self, class_name: str) -> int:
        """Position of ``class_name`` in :attr:`classes` (DataError if unknown)."""
        if class_name not in self._class_index:
            raise DataError(f"world {self.name} has no class {class_name!r}; see `cotclip world describe {self.name}`")
        return self._class_index[class_name]

    def true_index(self, class_name: str, group_name: str) -> int:
        """Index of the class's true value within ``group(group_name).values``."""
        self.group(group_name)  # raises for an unknown group
        return int(self.signatures[self.class_index(class_name), self._group_position[group_name]])

    def true_value(self, class_name: str, group_name: str) -> str:
        """The class's true value (canonical phrase) in ``group_name``."""
        return self.group(group_name).values[self.true_index(class_name, group_name)]

    # ----- geometry -----------------------------------------------------------------------
    @cached_property
    def concept_vectors(self) -> list[np.ndarray]:
        """Per group, ``float64 [values, dim]`` unit concept vectors."""
        seed, dim = self.config.seed, self.config.dim
        return [
            np.stack([hashed_unit_vector(seed, f"concept|{g.name}|{value}", dim) for value in g.values])
            for g in self.groups
        ]

    @cached_property
    def identity_vectors(self) -> np.ndarray:
        """``float64 [classes, dim]`` unit class-identity vectors."""
        return np.stack(
            [hashed_unit_vector(self.config.seed, f"identity|{name}", self.config.dim) for name in self.classes]
        )

    @cached_property
    def image_embeddings(self) -> np.ndarray:
        """``float32 [n_images, dim]`` unit rows; image ``i`` shows class ``labels[i]``."""
        cfg = self.config
        content = cfg.identity_strength * self.identity_vectors
        for position, group in enumerate(self.groups):
            content = content + group.visibility * self.concept_vectors[position][self.signatures[:, position]]
        nuisance = [hashed_unit_vector(cfg.seed, f"nuisance|{k}", cfg.dim) for k in range(cfg.nuisance.count)]
        plan = ImagePlan(
            seed=cfg.seed,
            class_vectors=content,
            labels=self.label_indices,
            nuisance_vectors=np.stack(nuisance) if nuisance else np.zeros((0, cfg.dim)),
            nuisance_strength=cfg.nuisance.strength,
            noise=cfg.noise,
        )
        return image_embeddings(plan)

    @cached_property
    def text_model(self) -> TextModel:
        """The encoder's reading of strings: every known surface form and class name."""
        cfg = self.config
        phrases: dict[str, np.ndarray] = {}
        for position, group in enumerate(self.groups):
            for value_index, forms in enumerate(group.surface_forms):
                concept = self.concept_vectors[position][value_index]
                for rank, form in enumerate(forms):
                    stray = hashed_unit_vector(cfg.seed, f"form|{form}", cfg.dim)
                    phrases[form] = unit_rows(concept + cfg.synonym_spread * (rank + 1) * stray)
        off_axis = np.sqrt(1.0 - cfg.name_alignment**2)
        for index, name in enumerate(self.classes):
            private = hashed_unit_vector(cfg.seed, f"name|{name}", cfg.dim)
            phrases[name] = unit_rows(cfg.name_alignment * self.identity_vectors[index] + off_axis * private)
        return TextModel(seed=cfg.seed, dim=cfg.dim, phrase_vectors=phrases, template_strength=cfg.template_strength)

    # ----- images ---------------------------------------------------------------------------
    @property
    def n_images(self) -> int:
        """Number of images in the world."""
        return len(self.labels)

    def image_uid(self, row: int) -> str:
        """Content id of image ``row``: ``synthetic:<world-hash>:<row>``."""
        return f"synthetic:{self.hash}:{row}"

    # ----- derived systems and descriptions ---------------------------------------------------
    def oracle_system(self) -> System:
        """The known optimum: true groups, canonical surface forms, true rules."""
        from cotclip.scoring.simulation.oracle import oracle_system

        return oracle_system(self)

    def field_notes(self, omit_rate: float = 0.0, error_rate: float = 0.0, seed: int = 0) -> dict[str, str]:
        """Per-class prose built from the true attributes, with omissions and errors."""
        from cotclip.scoring.simulation.notes import field_notes

        return field_notes(self, omit_rate=omit_rate, error_rate=error_rate, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: config, groups, classes with their true values, pairs."""
        return {
            "name": self.name,
            "hash": self.hash,
            "config": self.config.model_dump(mode="json"),
            "n_images": self.n_images,
            "groups": [group.to_dict() for group in self.groups],
            "classes": {c: {g.name: self.true_value(c, g.name) for g in self.groups} for c in self.classes},
            "confusable_pairs": [list(pair) for pair in self.confusable_pairs],
        }


def load_world(spec: str) -> World:
    """The world named by ``spec``: a preset (``pokemon-like``, ``large``) or a world YAML path."""
    name, config = read_world_config(spec)
    return World(config, name=name)
