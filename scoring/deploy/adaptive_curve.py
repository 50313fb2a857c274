"""Accuracy vs prompts curves of adaptive questioning (:mod:`cotclip.scoring.deploy.adaptive`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["AdaptivePoint", "AdaptiveCurve"]


@dataclass(frozen=True)
class AdaptivePoint:
    """One point of the accuracy vs prompts curve: its stop's knob, accuracy and prompt use.

    ``threshold`` is the posterior threshold (``stop="posterior"``), ``epsilon`` the flip
    probability bound (``stop="flip"``); the exact ``stop="margin"`` has neither.
    """

    threshold: float | None
    accuracy: float
    mean_prompts: float
    prompt_fraction: float
    epsilon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class AdaptiveCurve:
    """Accuracy vs mean prompts per image over a stop's knob values, against the full system."""

    points: tuple[AdaptivePoint, ...]
    full_accuracy: float
    full_prompts: int
    budget: int | None = None
    rank: str = "gain"
    stop: str = "posterior"

    def cheapest_matching(self, tolerance: float = 0.0) -> AdaptivePoint | None:
        """The point with the fewest prompts whose accuracy >= full accuracy - ``tolerance``."""
        good = [p for p in self.points if p.accuracy >= self.full_accuracy - tolerance - 1e-12]
        return min(good, key=lambda p: p.mean_prompts, default=None)

    def table(self) -> str:
        """Markdown table of the curve, the full system last."""
        knob = {"posterior": "threshold", "flip": "epsilon", "accuracy": "epsilon"}.get(self.stop, "stop")
        lines = [f"| {knob} | accuracy | mean prompts/image | fraction of full |", "|---|---|---|---|"]
        for p in self.points:
            value = p.epsilon if self.stop in ("flip", "accuracy") else p.threshold
            shown = self.stop if self.stop == "margin" else "never" if value is None else f"{value:g}"
            lines.append(f"| {shown} | {p.accuracy:.4f} | {p.mean_prompts:.1f} | {p.prompt_fraction:.2f} |")
        lines.append(f"| full system | {self.full_accuracy:.4f} | {self.full_prompts} | 1.00 |")
        return "\n".join(lines)

    def save_plot(self, path: str | Path, title: str = "Adaptive questioning") -> Path:
        """Write the curve as a PNG (matplotlib, Agg backend) and return its path."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5.5, 4.0), dpi=120)
        axes = figure.subplots()
        axes.plot(
            [p.mean_prompts for p in self.points], [p.accuracy for p in self.points], marker="o", label="adaptive"
        )
        axes.scatter([self.full_prompts], [self.full_accuracy], color="black", marker="*", s=120, label="full system")
        axes.axvline(self.full_prompts / 2, color="gray", linestyle=":", label="50% of prompts")
        axes.set(xlabel="mean prompts (text comparisons) per image", ylabel="accuracy", title=title)
        axes.legend(loc="lower right")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
        return path

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        best = self.cheapest_matching()
        return {
            "full_accuracy": self.full_accuracy,
            "full_prompts": self.full_prompts,
            "budget": self.budget,
            "rank": self.rank,
            "stop": self.stop,
            "points": [p.to_dict() for p in self.points],
            "cheapest_at_full_accuracy": None if best is None else best.to_dict(),
        }
