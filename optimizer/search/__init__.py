"""Knob search over a system's scoring knobs with Optuna (see ``_base`` for the contract)."""

from cotclip.optimizer.search._base import Knobs, ParetoPoint, SearchResult, SearchSpace, SearchTiming
from cotclip.optimizer.search.evaluator import Evaluation, KnobEvaluator
from cotclip.optimizer.search.functions import search_knobs
from cotclip.optimizer.search.optuna_search import JOURNAL_NAME, knob_search, open_storage
from cotclip.optimizer.search.pareto import pareto_table, save_pareto_plot

__all__ = [
    "Knobs",
    "ParetoPoint",
    "SearchResult",
    "SearchSpace",
    "SearchTiming",
    "Evaluation",
    "KnobEvaluator",
    "JOURNAL_NAME",
    "open_storage",
    "knob_search",
    "search_knobs",
    "pareto_table",
    "save_pareto_plot",
]
