"""Report a knob search's Pareto front: a markdown table and a PNG (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from cotclip.optimizer.search._base import SearchResult

__all__ = ["pareto_table", "save_pareto_plot"]


def pareto_table(result: SearchResult) -> str:
    """Markdown table of the front (fewest prompts first), the start system last."""
    lines = [
        "| trial | val accuracy | prompts/image | groups on | temperature | aggregation | name prior |",
        "|---|---|---|---|---|---|---|",
    ]
    for point in result.front:
        knobs = point.knobs
        mark = " (best)" if point is result.best else ""
        lines.append(
            f"| {point.trial}{mark} | {point.accuracy:.4f} | {point.prompts} | {len(knobs.active_groups())} | "
            f"{knobs.temperature:.4g} | {knobs.aggregation} | {knobs.name_prior_weight:.3g} |"
        )
    lines.append(f"| start | {result.start_accuracy:.4f} | {result.start_prompts} | | | | |")
    return "\n".join(lines)


def save_pareto_plot(result: SearchResult, path: str | Path, title: str = "Knob search: Pareto front") -> Path:
    """Write val accuracy vs prompts per image of the front (and the start) as a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 4.0), dpi=120)
    axes = figure.subplots()
    front = sorted(result.front, key=lambda p: p.prompts)
    axes.step([p.prompts for p in front], [p.accuracy for p in front], where="post", marker="o", label="Pareto front")
    axes.scatter([result.start_prompts], [result.start_accuracy], color="black", marker="x", s=80, label="start")
    axes.scatter([result.best.prompts], [result.best.accuracy], color="red", marker="*", s=140, label="best")
    axes.set_xlabel("prompts (text comparisons) per image")
    axes.set_ylabel("val accuracy")
    axes.set_title(title)
    axes.legend(loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
