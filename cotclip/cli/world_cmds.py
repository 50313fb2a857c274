"""``cotclip world describe|oracle|notes``: the synthetic planted-attribute world (a SIMULATION).

A WORLD argument is a preset (``pokemon-like``, ``large``) or a world YAML file; a
leading ``synthetic:`` is accepted so the same string works for ``--data``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from cotclip._systems import FORMATS
from cotclip._world import describe_world, world_notes, world_oracle
from cotclip.cli._app import app, console, emit_json
from cotclip.scoring.simulation import World

__all__ = ["world_app", "describe_command", "oracle_command", "notes_command"]

world_app = typer.Typer(
    name="world",
    help="The synthetic planted-attribute world (a simulation): describe it, write its oracle, print field notes.",
    no_args_is_help=True,
)
app.add_typer(world_app, name="world")

_WORLD_HELP = "A preset (pokemon-like, large) or a world .yaml file (synthetic: prefix optional)."


def _print(text: str) -> None:
    console.print(escape(text), soft_wrap=True, highlight=False)


def _print_structure(world: World) -> None:
    cfg = world.config
    _print(
        f"synthetic world {world.name} ({world.hash}): {len(world.classes)} classes, {world.n_images} images, "
        f"dim {cfg.dim}, noise {cfg.noise}, name_alignment {cfg.name_alignment}"
    )
    groups = Table("group", "values", "visibility", "prompt", title="groups")
    for group in world.groups:
        groups.add_row(group.name, str(len(group.values)), f"{group.visibility:.2f}", escape(group.prompt))
    console.print(groups)
    classes = Table("class", *(g.name for g in world.groups), title="true attributes")
    for class_name in world.classes:
        classes.add_row(escape(class_name), *(escape(world.true_value(class_name, g.name)) for g in world.groups))
    console.print(classes)
    if world.confusable_pairs:
        _print("confusable pairs: " + ", ".join(f"{a} / {b}" for a, b in world.confusable_pairs))


@world_app.command("describe")
def describe_command(
    world: str = typer.Argument(..., help=_WORLD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the description and accuracies as JSON."),
    temperature: float | None = typer.Option(
        None, "--temperature", help="Scoring temperature (default: the oracle's)."
    ),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the train/val/test split."),
) -> None:
    """Print classes, groups, visibilities and the name-baseline and oracle accuracies per split."""
    described = describe_world(world, temperature=temperature, split_seed=split_seed)
    if as_json:
        emit_json(described.to_dict())
        return
    _print_structure(described.world)
    table = Table(
        "split", "images", "name baseline", "oracle", title=f"accuracy (temperature {described.temperature:g})"
    )
    for row in described.report.accuracies:
        table.add_row(row.split, str(row.n), f"{row.name_baseline:.1%}", f"{row.oracle:.1%}")
    console.print(table)


@world_app.command("oracle")
def oracle_command(
    world: str = typer.Argument(..., help=_WORLD_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="File to write the oracle system to."),
    fmt: str = typer.Option("json", "--format", "-f", help=f"Output format: {', '.join(FORMATS)}."),
) -> None:
    """Write the world's oracle system (true groups, best phrasings, true rules)."""
    system = world_oracle(world, out, fmt)
    _print(f"wrote {out} ({fmt}: oracle with {len(system.classes)} classes, {len(system.groups)} groups)")


@world_app.command("notes")
def notes_command(
    world: str = typer.Argument(..., help=_WORLD_HELP),
    omit_rate: float = typer.Option(0.0, "--omit-rate", help="Probability of leaving out each attribute clause."),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Probability of a wrong value in a kept clause."),
    seed: int = typer.Option(0, "--seed", help="Seed of the omissions and errors."),
    as_json: bool = typer.Option(False, "--json", help="Print {class: note} as JSON."),
) -> None:
    """Print per-class field notes built from the true attributes, with omissions and errors."""
    notes = world_notes(world, omit_rate=omit_rate, error_rate=error_rate, seed=seed)
    if as_json:
        emit_json(notes)
        return
    for class_name, note in notes.items():
        _print(f"{class_name}: {note}")
