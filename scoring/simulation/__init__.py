"""The planted-attribute world: an offline, seeded SIMULATION of OOD classes and a frozen encoder.

``--data synthetic:<preset|world.yaml>`` and ``--model synthetic`` plug it into every
command like a real dataset and encoder; :meth:`World.oracle_system` is its known optimum.
"""

from cotclip.scoring.simulation.config import PRESETS, WorldConfig
from cotclip.scoring.simulation.world import World, WorldGroup, load_world, world_hash

__all__ = ["PRESETS", "World", "WorldConfig", "WorldGroup", "load_world", "world_hash"]
