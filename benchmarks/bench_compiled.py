"""Inference with a compiled ``.npz`` classifier vs the scorer, and the review server's response times.

Run: ``.venv/bin/python benchmarks/bench_compiled.py`` (add ``--quick`` for a smoke run).

Part 1, inference on *new* images (embeddings given; the image encoder's own cost is
the same on both paths and left out). Sizes: the seed's (Q=51 options in groups of
9/12/12/10/8, C=16 classes) and a large one (Q=200 in 10 groups of 20, C=1,000),
width 512, random unit vectors, batches of N images:

* ``scorer``: what a user without the compiled file pays per batch: a fresh
  :class:`ImageSet` (prompt texts already embedded in the ``PromptEmbedder``, as a
  warm process would have them) and ``class_scores``;
* ``compiled``: ``CompiledClassifier.class_scores`` on the same embeddings;
* ``load npz``: reading the file (``np.load(allow_pickle=False)`` + checks), once per process;
* ``file``: the ``.npz`` size.

Part 2, the review page on the planted world (synthetic encoder, cached embeddings):
``state`` (evidence for every rule on train + val accuracy), ``preview`` (apply one edit
and score val) and ``save`` (a new version on disk), each through HTTP on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from _common import TableEncoder, best_seconds, random_system, unit_rows
from cotclip.scoring.deploy.compiled import compile_system, read_compiled, write_compiled
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, class_scores


def inference_rows(quick: bool) -> list[str]:
    """Part 1 table rows."""
    rng = np.random.default_rng(0)
    rows = [
        "| size | N | scorer ms | compiled ms | scorer/compiled | load npz ms | file KiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, sizes, n_classes in (("seed", [9, 12, 12, 10, 8], 16), ("large", [20] * 10, 1000)):
        system = random_system(rng, sizes, n_classes, temperature=0.01)
        encoder = TableEncoder(
            {t: row for t, row in zip(system.prompt_texts(), unit_rows(rng, len(system.prompt_texts())))}
        )
        prompts = PromptEmbedder(encoder)
        prompts.embed(system.prompt_texts())
        with tempfile.TemporaryDirectory() as folder:
            path = write_compiled(compile_system(system, encoder), Path(folder) / "c.npz")
            load_s = best_seconds(lambda: read_compiled(path), 3 if quick else 10)  # noqa: B023 - runs before the loop moves on
            compiled, size_kib = read_compiled(path), path.stat().st_size / 1024
        for n in (117, 2_000) if quick else (117, 10_000):
            images = unit_rows(rng, n)
            scorer_s = best_seconds(
                lambda: class_scores(system, ImageSet(images, ["x"] * n, prompts)),  # noqa: B023 - runs before the loop moves on
                3 if quick else 7,
            )
            compiled_s = best_seconds(lambda: compiled.class_scores(images), 3 if quick else 7)  # noqa: B023 - runs before the loop moves on
            rows.append(
                f"| {label} (Q={sum(sizes)}, C={n_classes}) | {n} | {1e3 * scorer_s:.2f} | {1e3 * compiled_s:.2f} | "
                f"{scorer_s / compiled_s:.2f} | {1e3 * load_s:.2f} | {size_kib:.0f} |"
            )
    return rows


def _http(url: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def review_rows(quick: bool) -> list[str]:
    """Part 2 table rows (one per world preset)."""
    from cotclip.optimizer.loop.config import RunConfig
    from cotclip.optimizer.loop.runs import RunDir, VersionRecord, utc_now
    from cotclip.optimizer.review.rundata import load_review_data
    from cotclip.optimizer.review.server import make_server
    from cotclip.optimizer.review.session import ReviewSession, load_version
    from cotclip.scoring.simulation.world import load_world

    rows = ["| world | train images | rules | state ms | preview ms | save ms |", "|---|---|---|---|---|---|"]
    for preset in ("pokemon-like",) if quick else ("pokemon-like", "large"):
        with tempfile.TemporaryDirectory() as folder:
            system = load_world(preset).oracle_system()
            config = RunConfig(
                name="bench",
                runs_dir=folder,
                data=f"synthetic:{preset}",
                model="synthetic",
                cache_dir=str(Path(folder) / "cache"),
            )
            run = RunDir.create(config.run_dir)
            run.write_text("run.yaml", config.to_yaml())
            run.save_version(VersionRecord(1, system, 0.0, 0, "oracle", None, 0, utc_now(), utc_now()))
            run.release_lock()
            record = load_version(config.run_dir)
            session = ReviewSession(config.run_dir, record, load_review_data(config.run_dir, record.system))
            group = system.groups[0]
            edit = {"edits": [{"op": "set_rule", "class": system.classes[0], "group": group.name, "option": 0}]}
            with make_server(session) as server:
                state = _http(server.url + "api/state")
                state_s = best_seconds(lambda: _http(server.url + "api/state"), 3)
                preview_s = best_seconds(lambda: _http(server.url + "api/preview", edit), 3)  # noqa: B023 - runs before the loop moves on
                save_s = best_seconds(lambda: _http(server.url + "api/save", edit), 1)  # noqa: B023 - runs before the loop moves on
            rows.append(
                f"| {preset} | {state['train_n']} | {len(state['evidence'])} | {1e3 * state_s:.1f} | "
                f"{1e3 * preview_s:.1f} | {1e3 * save_s:.1f} |"
            )
    return rows


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    quick = parser.parse_args().quick
    print("\n".join(inference_rows(quick)))
    print()
    print("\n".join(review_rows(quick)))


if __name__ == "__main__":
    main()
