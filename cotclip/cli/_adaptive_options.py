"""The ``--adaptive`` flags shared by ``cotclip evaluate`` and ``cotclip predict``, and their check.

``--threshold``, ``--budget``, ``--stop``, ``--epsilon`` and ``--rank`` map onto
:class:`~cotclip.scoring.deploy.adaptive_stops.AdaptivePolicy` (the arguments of
``AdaptiveClassifier.run``); the choices of ``--stop`` and ``--rank`` are the adaptive
module's own ``Stop`` and ``Rank`` literals. :func:`adaptive_policy` turns the flags into
a policy, or raises :class:`~cotclip.systems.errors.InputError` (one line, exit 2) for a
flag without ``--adaptive``, a knob of another stopping rule or a value out of range.
"""

from __future__ import annotations

import math
from typing import Annotated, get_args

import typer

from cotclip.scoring.deploy.adaptive import Rank, Stop
from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy
from cotclip.systems.errors import InputError

__all__ = [
    "Adaptive",
    "AdaptiveThreshold",
    "AdaptiveBudget",
    "AdaptiveStop",
    "AdaptiveEpsilon",
    "AdaptiveRank",
    "STOP_CHOICES",
    "RANK_CHOICES",
    "adaptive_policy",
    "describe_policy",
]

STOP_CHOICES: tuple[str, ...] = get_args(Stop)
RANK_CHOICES: tuple[str, ...] = get_args(Rank)
_DEFAULTS = AdaptivePolicy()

Adaptive = Annotated[
    bool,
    typer.Option("--adaptive", help="Ask groups per image, most informative first, stopping early (see --stop)."),
]
AdaptiveThreshold = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help=f"--stop posterior: stop once the top class posterior reaches this "
        f"probability, in (0, 1] (default {_DEFAULTS.threshold}).",
    ),
]
AdaptiveBudget = Annotated[
    int | None,
    typer.Option("--budget", help="--adaptive: at most this many prompts (text comparisons) per image."),
]
AdaptiveStop = Annotated[
    Stop | None,
    typer.Option(
        "--stop",
        help=f"--adaptive stopping rule (default {_DEFAULTS.stop}): posterior (--threshold), "
        "margin (exact: the full system's predictions), flip (--epsilon; prob_sum only) or "
        "accuracy (--epsilon: stop when the rest is not expected to add that much accuracy).",
    ),
]
AdaptiveEpsilon = Annotated[
    float | None,
    typer.Option(
        "--epsilon",
        help=f"--stop flip: stop once the estimated chance that the unasked groups change "
        f"the decision is below this, in [0, 1) (default {_DEFAULTS.epsilon}; 0 = margin); "
        "--stop accuracy: once their estimated accuracy gain is below this.",
    ),
]
AdaptiveRank = Annotated[
    Rank | None,
    typer.Option(
        "--rank",
        help=f"--adaptive: which group to ask next (default {_DEFAULTS.rank}): information gain, "
        "gain per prompt, or expected margin rise per prompt.",
    ),
]


def adaptive_policy(
    adaptive: bool,
    *,
    threshold: float | None,
    budget: int | None,
    stop: str | None,
    epsilon: float | None,
    rank: str | None,
    aggregation: str,
) -> AdaptivePolicy | None:
    """The policy the flags ask for (None without ``--adaptive``), or InputError naming the bad flag.

    ``aggregation`` is the system's (``--stop flip`` needs ``prob_sum``). Unset flags take
    :class:`AdaptivePolicy`'s defaults; the threshold is kept only for the posterior stop.
    """
    given = {"--threshold": threshold, "--budget": budget, "--stop": stop, "--epsilon": epsilon, "--rank": rank}
    if not adaptive:
        named = [flag for flag, value in given.items() if value is not None]
        if named:
            raise InputError(f"{named[0]} only applies to adaptive questioning; add --adaptive or drop {named[0]}")
        return None
    stop = stop or _DEFAULTS.stop
    if epsilon is not None and stop not in ("flip", "accuracy"):
        raise InputError(
            f"--epsilon is the knob of --stop flip or accuracy, not --stop {stop}; add --stop flip or drop --epsilon"
        )
    if threshold is not None and stop != "posterior":
        raise InputError(
            f"--threshold is the knob of --stop posterior, not --stop {stop}; drop --threshold"
            + (" (--epsilon is its knob)" if stop in ("flip", "accuracy") else " (margin has no knob)")
        )
    if epsilon is not None and not (math.isfinite(epsilon) and 0.0 <= epsilon < 1.0):
        raise InputError(f"--epsilon must be in [0, 1) (got {epsilon}); e.g. 0.05, or 0 for the exact margin stop")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise InputError(f"--threshold must be in (0, 1] (got {threshold}); e.g. 0.9, or 1.0 to ask every group")
    if budget is not None and budget < 1:
        raise InputError(f"--budget must be >= 1 prompt (got {budget}); omit it for no budget")
    if stop == "flip" and aggregation != "prob_sum":
        raise InputError(
            f"--stop flip needs prob_sum aggregation but the system uses {aggregation}; "
            "use --stop margin (exact) or --stop posterior"
        )
    return AdaptivePolicy(
        threshold=(_DEFAULTS.threshold if threshold is None else threshold) if stop == "posterior" else None,
        budget=budget,
        rank=rank or _DEFAULTS.rank,
        stop=stop,
        epsilon=_DEFAULTS.epsilon if epsilon is None else epsilon,
    ).check(aggregation)


def describe_policy(policy: AdaptivePolicy) -> str:
    """A short human label of the stopping rule and its knob, e.g. ``stop flip, epsilon 0.05``."""
    knob = {
        "posterior": f", threshold {policy.threshold}",
        "flip": f", epsilon {policy.epsilon}",
        "accuracy": f", epsilon {policy.epsilon}",
    }.get(policy.stop, "")
    budget = "" if policy.budget is None else f", budget {policy.budget}"
    return f"stop {policy.stop}{knob}, rank {policy.rank}{budget}"
