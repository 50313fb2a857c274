"""The oracle system of a planted-attribute world: the best system the world allows.

It asks every true group through its built-in template, offers each group's values in
their canonical (best) surface form, and gives every class its true values as rules.
Its ``scoring`` block carries the world's ``oracle_temperature``, the temperature at
which the preset numbers in the README were measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cotclip.systems.model import Group, Provenance, ScoringConfig, System

if TYPE_CHECKING:
    from cotclip.scoring.simulation.world import World

__all__ = ["oracle_system"]


def oracle_system(world: World) -> System:
    """The known optimum of ``world`` as a valid :class:`System`."""
    groups = [Group(name=g.name, prompt=g.prompt, options=list(g.values)) for g in world.groups]
    rules: dict[str, dict[str, int | None]] = {
        c: {g.name: world.true_index(c, g.name) for g in world.groups} for c in world.classes
    }
    return System(
        name=f"oracle-{world.name}",
        classes=list(world.classes),
        groups=groups,
        rules=rules,
        scoring=ScoringConfig(temperature=world.config.oracle_temperature, aggregation="prob_sum"),
        provenance=Provenance(
            method="synthetic-oracle",
            details={"world": world.name, "world_hash": world.hash},
        ),
        notes=[
            f"Oracle of the synthetic world {world.name} ({world.hash}): true groups, canonical phrases, true rules."
        ],
    )
