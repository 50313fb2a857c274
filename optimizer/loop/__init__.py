"""The optimization loop behind ``cotclip optimize``: propose, evaluate, diagnose, move, stop, report.

Modules: ``_base`` (the Move seam), ``config`` (RunConfig = run.yaml), ``runs`` (run-dir
storage), ``data`` (load, split, encode once), ``moves``/``refine``/``merge`` (the moves),
``stopping`` (convergence and budgets), ``loop`` (orchestration), ``final``/``report``/``result``
(the test report), ``finish`` (the final choice, scored on test and written out), ``session``
(one ``cotclip optimize`` invocation: :func:`session.optimize`).
"""

from cotclip.optimizer.loop._base import Move, MoveContext, MoveResult, SearchFunction, lock_violations

__all__ = ["Move", "MoveContext", "MoveResult", "SearchFunction", "lock_violations"]
