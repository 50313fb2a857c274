"""``--model synthetic:variant:<k>[:<world>]``: another encoder of the same world (a SIMULATION).

Transfer ("does a system optimized on encoder A still work on encoder B?") needs encoders
that see the same images and the same concepts differently. Variant ``k`` (an integer
>= 0) of a world keeps everything that belongs to the world (classes, their true
attribute values, the confusable pairs, which image shows which class) and redraws what
belongs to an encoder:

* **geometry**: every vector the encoder uses (concept and class-identity vectors,
  per-image style and noise, template offsets, unknown-phrase vectors) comes from a seed
  derived from the world's seed and ``k``, so the text/image space is a new random one;
* **visibility**: each group's visibility is multiplied by ``exp(0.5 z)``, ``z ~ N(0, 1)``,
  and clipped to [0.05, 1]: a group one encoder sees well another may see poorly;
* **vocabulary**: of each value's built-in phrasings (canonical and synonyms) the variant
  knows ``min(surface_forms, phrasings - 1)`` (at least one), drawn at random and in a
  random order (the first is its closest wording), so a system worded for one encoder
  may use phrases another never learned.

The world part is optional: ``synthetic:variant:3`` takes the world from ``--data`` like plain
``synthetic`` does; ``synthetic:variant:3:pokemon-like`` (any world spec after the second
colon, e.g. ``synthetic:variant:3:random:7``) names it. Because ``variant:`` is checked
first, a world *file* whose path starts with ``variant:`` must be given as ``./variant:...``.
The encoder's identity is ``synthetic:<world-hash>:variant:<k>``: its cache rows never mix
with the base encoder's or another variant's.
"""

from __future__ import annotations

import copy
import hashlib
import math

import numpy as np

from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.geometry import seeded_rng
from cotclip.scoring.simulation.vocab import VOCABULARIES
from cotclip.scoring.simulation.world import World, WorldGroup
from cotclip.systems.errors import EncoderError

__all__ = ["VARIANT_PREFIX", "VariantEncoder", "variant_world", "parse_variant_spec"]

VARIANT_PREFIX = "variant:"
_CACHED = ("concept_vectors", "identity_vectors", "image_embeddings", "text_model")


def _variant_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1fencoder-variant\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _row_of(group: WorldGroup, value: str) -> tuple[str, ...]:
    for row in VOCABULARIES[group.name].values:
        if row[0] == value:
            return row
    return (value,)


def _variant_group(group: WorldGroup, rng: np.random.Generator, surface_forms: int) -> WorldGroup:
    visibility = float(np.clip(group.visibility * math.exp(0.5 * rng.standard_normal()), 0.05, 1.0))
    forms = []
    for value in group.values:
        row = _row_of(group, value)
        known = max(1, min(surface_forms, len(row) - 1))
        order = rng.permutation(len(row))[:known]
        forms.append(tuple(row[i] for i in order))
    return WorldGroup(group.name, group.prompt, group.note_clause, group.values, tuple(forms), visibility)


def variant_world(world: World, index: int) -> World:
    """The world as encoder variant ``index`` sees it (same classes, truths and image ids; see module docstring)."""
    if index < 0:
        raise EncoderError(f"encoder variant {index} is negative; use synthetic:variant:<k> with k >= 0")
    variant = copy.copy(world)
    for name in _CACHED:
        variant.__dict__.pop(name, None)
    seed = _variant_seed(world.config.seed, index)
    variant.config = world.config.model_copy(update={"seed": seed})
    rng = seeded_rng(seed, "variant-groups")
    variant.groups = [_variant_group(group, rng, world.config.surface_forms) for group in world.groups]
    variant.name = f"{world.name}~variant{index}"
    return variant


class VariantEncoder(SyntheticEncoder):
    """The encoder of a world's variant ``index``: the base world's images, its own geometry."""

    def __init__(self, world: World, index: int):
        super().__init__(variant_world(world, index))
        self.index = index
        self._base_hash = world.hash

    @property
    def identity(self) -> str:
        """``synthetic:<world-hash>:variant:<k>``."""
        return f"synthetic:{self._base_hash}:variant:{self.index}"


def parse_variant_spec(rest: str) -> tuple[int, str]:
    """``"variant:<k>[:<world>]"`` -> ``(k, world spec or "")``; EncoderError when ``k`` is not an integer."""
    number, _, world = rest[len(VARIANT_PREFIX) :].partition(":")
    try:
        index = int(number)
    except ValueError:
        raise EncoderError(
            f"encoder variant {number!r} is not an integer; use synthetic:variant:<k>[:<world>], e.g. "
            "synthetic:variant:1"
        ) from None
    if index < 0:
        raise EncoderError(f"encoder variant {index} is negative; use synthetic:variant:<k> with k >= 0")
    return index, world.strip()
