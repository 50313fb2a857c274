"""Synthetic encoder throughput: building worlds, embedding images and texts.

Run: ``.venv/bin/python benchmarks/bench_synthetic.py`` (add ``--quick`` for a smoke run).

Rows, for the ``pokemon-like`` (16 classes, 144 images, dim 128) and ``large`` (400
classes, 6,000 images, dim 256) presets:

* ``build``: a fresh :class:`World` from its config, including every image embedding
  and the text model's phrase table (target for ``large``: < 2 s);
* ``images``: ``encode_images`` over every image ref of the dataset (a row gather);
* ``texts known``: ``encode_texts`` of the oracle's prompts plus each group template
  wrapped around every known synonym (each string parsed and embedded once);
* ``texts unknown``: the same number of strings the encoder has never learned.

Each row is the best of ``--repeat`` runs; the last column compares with the target
or with the known-text rate.
"""

from __future__ import annotations

import argparse
import sys

from _common import best_seconds
from cotclip.scoring.simulation.dataset import dataset_of_world
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import World, load_world

BUILD_TARGET_S = 2.0


def _known_texts(world: World) -> list[str]:
    texts = world.oracle_system().prompt_texts()
    for group in world.groups:
        texts += [group.prompt.replace("{}", form) for forms in group.surface_forms for form in forms[1:]]
    return list(dict.fromkeys(texts))


def _fresh_world(spec: str) -> World:
    world = load_world(spec)
    world.image_embeddings  # noqa: B018 - forces the embedding computation being timed
    world.text_model  # noqa: B018 - and the phrase table of every known surface form
    return world


def bench(spec: str, repeat: int) -> list[tuple[str, str, float, str]]:
    """Rows ``(preset, what, rate or seconds, comparison)`` for one preset."""
    build_s = best_seconds(lambda: _fresh_world(spec), repeat)
    world = _fresh_world(spec)
    refs = dataset_of_world(world, spec).images
    known = _known_texts(world)
    unknown = [f"This creature is rather {i}-ish zqx." for i in range(len(known))]

    def cold_text_seconds(texts: list[str]) -> float:
        """Best time to embed ``texts`` with a fresh world (no template offset remembered)."""
        best = float("inf")
        for _ in range(repeat):
            encoder = SyntheticEncoder(_fresh_world(spec))
            best = min(best, best_seconds(lambda: encoder.encode_texts(texts), 1))  # noqa: B023 - runs before the loop moves on
        return best

    image_s = best_seconds(lambda: SyntheticEncoder(world).encode_images(refs), repeat)
    known_s = cold_text_seconds(known)
    unknown_s = cold_text_seconds(unknown)
    build_note = (
        f"{BUILD_TARGET_S / build_s:.1f}x under the {BUILD_TARGET_S:g} s target"
        if build_s < BUILD_TARGET_S
        else "OVER TARGET"
    )
    known_rate = len(known) / known_s
    return [
        (spec, f"build ({world.n_images} images)", build_s, build_note),
        (spec, "images/s", len(refs) / image_s, ""),
        (spec, f"texts known/s ({len(known)})", known_rate, "1.00x"),
        (
            spec,
            f"texts unknown/s ({len(unknown)})",
            len(unknown) / unknown_s,
            f"{len(unknown) / unknown_s / known_rate:.2f}x known",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 if building ``large`` misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="One run per row.")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    rows = bench("pokemon-like", repeat) + bench("large", repeat)
    print(f"{'preset':<14}{'measure':<30}{'value':>14}  comparison")
    for preset, what, value, note in rows:
        shown = f"{value:.3f} s" if what.startswith("build") else f"{value:,.0f}"
        print(f"{preset:<14}{what:<30}{shown:>14}  {note}")
    large_build = next(value for preset, what, value, _ in rows if preset == "large" and what.startswith("build"))
    return 0 if large_build < BUILD_TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
