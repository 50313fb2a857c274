"""The ``knob_search`` move: a multi-objective Optuna study per parent, kept in persistent storage.

Each application searches the parent's scoring knobs on val
(:func:`cotclip.optimizer.search.knob_search`) in a study named after the parent's
fingerprint and the val set, so

* by default the study lives in ``<run dir>/search.journal``: a run resumed after
  ``kill -9`` in the middle of a search continues that study instead of starting over;
* with ``storage`` (``--storage sqlite:///x.db``, any Optuna RDB URL, or a journal
  path) runs that search the same system on the same val images (same data, seed and
  config, e.g. several workers started alike) share one study: every worker stops once
  the study holds ``budget`` complete trials, so a later worker reuses finished trials.

The move returns the most accurate system of the front (when it beats the parent) and
hands the whole Pareto front (val accuracy vs prompts per image) to the loop as the
``pareto.json`` artifact, which the final report renders as a table and a PNG.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cotclip.optimizer.loop._base import MoveContext, MoveResult
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.model import System

__all__ = ["KnobSearchMove", "PARETO_FILE", "check_storage"]

PARETO_FILE = "pareto.json"


def check_storage(storage: str | None) -> None:
    """Raise InputError when ``storage`` cannot be opened (called before a run dir exists)."""
    if storage is not None:
        from cotclip.optimizer.search import open_storage

        open_storage(storage, None)


def _val_key(val: ImageSet) -> str:
    digest = hashlib.sha256("\n".join(val.labels).encode())
    digest.update(val.embeddings.tobytes())
    return digest.hexdigest()[:8]


class KnobSearchMove:
    """Knob search on val as a move (see the module docstring).

    ``run_dir`` holds the default journal; ``storage`` overrides it. The move is charged
    the trials this process actually ran (a resumed or shared study costs less).
    """

    name = "knob_search"

    def __init__(self, *, budget: int, run_dir: str | Path | None, storage: str | None = None) -> None:
        self.budget = budget
        self.run_dir = run_dir
        self.storage = storage

    def study_name(self, parent: System, val: ImageSet) -> str:
        """``knobs-<parent fingerprint>-<val images>``: equal searches share a study, others never do."""
        return f"knobs-{parent.fingerprint()[:12]}-{_val_key(val)}"

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """The front's most accurate system (none when it is the parent) and the front as an artifact."""
        from cotclip.optimizer.search import knob_search

        budget = self.budget if context.evaluation_budget is None else min(self.budget, context.evaluation_budget)
        if budget <= 0:
            return MoveResult(candidates=[])
        result = knob_search(
            parent,
            context.val,
            n_trials=budget,
            storage=self.storage,
            run_dir=self.run_dir,
            study_name=self.study_name(parent, context.val),
            seed=context.seed,
        )
        details = {
            "study": result.study_name,
            "storage": result.storage,
            "study_trials": result.n_trials,
            "trials_run": result.timing.trials,
            "front_size": len(result.front),
        }
        improved = result.best.trial != 0 and result.best_system.fingerprint() != parent.fingerprint()
        return MoveResult(
            candidates=[result.best_system] if improved else [],
            evaluations=result.timing.trials,
            details=details,
            artifacts={PARETO_FILE: result.to_dict()},
        )
