"""``report.md`` and its PNG plots (matplotlib ``Figure`` objects: no pyplot, no backend switched for the process)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from cotclip.optimizer.loop.result import HeldOutScore, RunSummary
from cotclip.optimizer.loop.runs import VersionRecord
from cotclip.optimizer.loop.stopping import STOP_REASONS

if TYPE_CHECKING:
    from cotclip.optimizer.search import SearchResult  # imports Optuna: only when a search ran

__all__ = ["plot_val_history", "plot_confusion", "render_report", "write_report"]


def plot_val_history(versions: list[VersionRecord], path: Path) -> Path:
    """Val accuracy of every version (dots by move) and the best so far (line)."""
    figure = Figure(figsize=(7, 3.5), dpi=100)
    axes = figure.subplots()
    numbers = [v.number for v in versions]
    best_so_far, best = [], float("-inf")
    for version in versions:
        best = max(best, version.val_accuracy)
        best_so_far.append(best)
    for move in sorted({v.move for v in versions}):
        chosen = [v for v in versions if v.move == move]
        axes.scatter([v.number for v in chosen], [v.val_accuracy for v in chosen], s=14, label=move)
    axes.step(numbers, best_so_far, where="post", color="black", linewidth=1.2, label="best so far")
    axes.set_xlabel("version")
    axes.set_ylabel("val accuracy")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=7, loc="lower right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_confusion(score: HeldOutScore, path: Path) -> Path:
    """Confusion matrix heat map (rows = true class, columns = predicted)."""
    size = min(12.0, max(4.0, 0.35 * len(score.classes) + 2))
    figure = Figure(figsize=(size, size), dpi=100)
    axes = figure.subplots()
    image = axes.imshow(score.confusion, cmap="Blues")
    if len(score.classes) <= 40:
        ticks = range(len(score.classes))
        axes.set_xticks(ticks, score.classes, rotation=90, fontsize=7)
        axes.set_yticks(ticks, score.classes, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{score.label} on test: {score.accuracy:.1%}")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path)
    return path


def _row(score: HeldOutScore | None, note: str = "") -> str:
    if score is None:
        return ""
    version = score.version or "-"
    interval = f"{score.ci[0]:.1%} - {score.ci[1]:.1%}"
    return f"| {score.label} | {version} | {score.accuracy:.1%} | {interval} | {score.n} |{note}\n"


def _knob_search_section(search: SearchResult) -> str:
    from cotclip.optimizer.search.pareto import pareto_table  # imports Optuna: only when a search ran

    return (
        f"\n## Knob search: Pareto front (last search)\n\nStudy `{search.study_name}` in `{search.storage}`, "
        f"{search.n_trials} complete trials; val accuracy vs prompts (text comparisons) per image. "
        "All points in `pareto.json`.\n\n" + pareto_table(search) + "\n\n![Pareto front](plots/pareto.png)\n"
    )


def _proposer_section(tuning: dict[str, Any]) -> str:
    llm = tuning.get("llm", {})
    return (
        f"\n## Proposer instructions (GEPA)\n\nVal accuracy of the proposed system: {tuning['seed_score']:.1%} "
        f"with the given instructions, {tuning['best_score']:.1%} "
        f"with the best of {tuning['candidates']} candidate(s); "
        f"{llm.get('proposer_calls', 0)} proposer and {llm.get('reflection_calls', 0)} reflection LLM calls. "
        f"{_proposals_line(tuning.get('proposals'))}"
        f"The run's proposer read `{tuning['prompts_dir']}` (reuse it with `--prompts-dir`).\n"
    )


def _proposals_line(proposals: list[dict[str, Any]] | None) -> str:
    """What the reflection LM proposed and what GEPA kept (older proposer_opt.json files lack the record)."""
    if proposals is None:
        return ""
    kept = sum(1 for p in proposals if p.get("accepted"))
    scores = ", ".join(f"{max(p['scores']):.1%}" for p in proposals if p.get("scores"))
    return f"The reflection proposed {len(proposals)} rewrite(s), {kept} kept" + (
        f" (best score of each: {scores}; all in `proposer_opt.json`). " if scores else ". "
    )


def _current_line(summary: RunSummary) -> str:
    """Which version review, export and ``--init RUN_DIR`` use, and why.

    It differs from the best version after a human edit.
    """
    current = summary.extra.get("current")
    if not current:
        return ""
    return (
        f"Current version {current['version']} ({current['why']}): what `cotclip review`, `export` and "
        "`review --apply` use unless given `--version`.\n\n"
    )


def _headline(summary: RunSummary) -> list[str]:
    """Title, why and when the run stopped, the best version, the proposer and the current version."""
    explanation = STOP_REASONS.get(summary.stopped_because, summary.stopped_because)
    return [
        f"# cotclip optimize: {Path(summary.run_dir).name}\n\n",
        f"Stopped because: **{summary.stopped_because}** ({explanation}) after {summary.versions} versions, "
        f"{summary.evaluations} val evaluations, {summary.wall_s:.1f} s.\n\n",
        f"Best version {summary.best_version}: val {summary.best_val_accuracy:.1%}.\n\n",
        f"Proposer: {summary.extra.get('proposer', 'unrecorded')}.\n\n",
        _current_line(summary),
    ]


def _test_section(summary: RunSummary, extra_rows: Sequence[HeldOutScore]) -> list[str]:
    """The test-accuracy table, how the final version was chosen, and warnings about the baseline."""
    lines = [
        "## Test accuracy (95% bootstrap interval)\n\n"
        "| system | version | accuracy | 95% CI | n |\n|---|---|---|---|---|\n",
        _row(summary.best),
        _row(summary.initial),
        _row(summary.user_system),
        _row(summary.baseline),
        *[_row(score) for score in extra_rows],
    ]
    choice = summary.extra.get("final_choice")
    if choice:
        lines.append(
            f"\nFinal choice: version {choice['chosen']} by {choice['rule']} (tied with the val-top version "
            f"{choice['top']}: {', '.join(choice['tied'])}); the val-top version scored "
            f"{choice['top_test_accuracy']:.1%} on test.\n"
        )
    if summary.versus_baseline.get("note"):
        lines.append(f"\n**Warning:** {summary.versus_baseline['note']}.\n")
    if summary.baseline is None and summary.baseline_note:
        lines.append(f"\nClass-name baseline unavailable: {summary.baseline_note}\n")
    lines.append(
        "\n## Per-class test accuracy of the best system (the final choice)\n\n| class | accuracy |\n|---|---|\n"
    )
    lines += [f"| {name} | {value:.1%} |\n" for name, value in summary.best.per_class.items()]
    return lines


def _cost_section(summary: RunSummary) -> str:
    usd = summary.llm.get("usd", 0.0)
    return (
        f"\n## Cost\n\nEncoder calls: {summary.encoder_calls} for {summary.unique_inputs} unique inputs; "
        f"LLM: {summary.llm.get('calls', 0)} calls, "
        f"{summary.llm.get('prompt_tokens', 0) + summary.llm.get('completion_tokens', 0)} tokens, "
        f"{'unknown dollars (the model is not in the price map)' if usd is None else f'${usd:.4f}'}; loop overhead "
        f"{summary.loop_overhead_s_per_evaluation * 1e3:.2f} ms "
        "per evaluation (excluding LLM time).\n"
    )


def render_report(
    summary: RunSummary,
    versions: list[VersionRecord],
    extra_rows: Sequence[HeldOutScore] = (),
    *,
    knob_search: SearchResult | None = None,
    proposer_optimization: dict[str, Any] | None = None,
) -> str:
    """The markdown text of ``report.md`` (``knob_search``: a SearchResult whose front is shown)."""
    lines = [*_headline(summary), *_test_section(summary, extra_rows)]
    lines.append("\n## Plots\n\n![val accuracy over versions](plots/val_accuracy.png)\n\n")
    lines.append("![confusion of the best system on test](plots/confusion_test.png)\n")
    lines.append(_cost_section(summary))
    if knob_search is not None:
        lines.append(_knob_search_section(knob_search))
    if proposer_optimization is not None:
        lines.append(_proposer_section(proposer_optimization))
    if summary.extra.get("transfer"):
        from cotclip.optimizer.loop.transfer import transfer_markdown

        lines.append(
            "\n## Transfer to other encoders (--transfer-model)\n\n" + transfer_markdown(summary.extra["transfer"])
        )
    lines.append("\n## Versions\n\n| version | round | move | parent | val |\n|---|---|---|---|---|\n")
    lines += [
        f"| {v.version_id} | {v.round} | {v.move} | {v.parent or '-'} | {v.val_accuracy:.1%} |\n" for v in versions
    ]
    return "".join(lines)


def write_report(
    run_path: Path,
    summary: RunSummary,
    versions: list[VersionRecord],
    extra_rows: Sequence[HeldOutScore] = (),
    *,
    knob_search: SearchResult | None = None,
    proposer_optimization: dict[str, Any] | None = None,
) -> Path:
    """Write ``plots/*.png`` and ``report.md`` (atomically) into ``run_path``; returns the report path.

    ``knob_search`` (a SearchResult) adds its Pareto table and ``plots/pareto.png``;
    ``proposer_optimization`` (``proposer_opt.json``) a section on the tuned instructions.
    """
    from cotclip.optimizer.loop.runs import atomic_write_text

    plots = run_path / "plots"
    plots.mkdir(exist_ok=True)
    plot_val_history(versions, plots / "val_accuracy.png")
    plot_confusion(summary.best, plots / "confusion_test.png")
    if knob_search is not None:
        from cotclip.optimizer.search.pareto import save_pareto_plot

        save_pareto_plot(knob_search, plots / "pareto.png")
    target = run_path / "report.md"
    text = render_report(
        summary, versions, list(extra_rows), knob_search=knob_search, proposer_optimization=proposer_optimization
    )
    atomic_write_text(target, text)
    return target
