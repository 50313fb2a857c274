"""``RunConfig``: everything a run needs, stored as ``run.yaml`` and accepted by ``--config``.

A config fully determines a run apart from LLM nondeterminism: data, encoder, split,
proposer, moves, stopping rules and budgets. Unknown keys are errors (typos must not
silently fall back to defaults).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cotclip.systems.errors import InputError

__all__ = ["RunConfig", "MOVE_NAMES", "ProposerMode", "load_run_config", "default_run_name"]

#: How an LLM proposes (see ``RunConfig.proposer``).
ProposerMode = Literal["auto", "staged", "oneshot"]

MOVE_NAMES = ("fit_rules", "refine_rules", "merge", "llm_revise", "tune_scoring", "knob_search", "select_groups")


def default_run_name() -> str:
    """A run name from the current UTC time, e.g. ``20261122-031502``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


class RunConfig(BaseModel):
    """The full configuration of one ``cotclip optimize`` run (``run.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default_factory=default_run_name)
    runs_dir: str = "runs"
    data: str
    model: str
    classes: list[str] | None = Field(default=None, description="Default: every label of the dataset.")
    image_column: str = Field(default="image", description="Manifest / HF dataset column of the images.")
    label_column: str = Field(default="label", description="Manifest / HF dataset column of the labels.")
    init: str | None = Field(default=None, description="A user/seed system file to start from.")
    lm: str = Field(default="simulated", description="`simulated`, `local[:model|:file.gguf]` or a DSPy LM string.")
    proposer: ProposerMode = Field(
        default="auto",
        description="How an LLM proposes: short staged steps, one whole answer, or auto "
        "(staged for local and small models).",
    )
    api_base: str | None = None
    llm_max_tokens: int = Field(default=1500, ge=64, description="Longest LLM answer, in tokens.")
    llm_timeout_s: float | None = Field(
        default=None,
        gt=0.0,
        description="Seconds one LLM attempt may take (default: 120 for a hosted LLM, 1800 for local).",
    )
    llm_retries: int = Field(default=2, ge=0, description="Attempts after a failed LLM call (exponential backoff).")
    llm_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="LLM calls in flight at once (1: one after the other; default: 4 for a hosted LLM, "
        "1 for local); `local` starts llama-server with this many slots.",
    )
    domain: str | None = None
    notes: str | dict[str, str] | None = Field(
        default=None, description="Per-class notes: a YAML/JSON file or a mapping."
    )
    n_proposals: int = Field(default=4, ge=1)
    max_groups: int = Field(default=6, ge=1)
    max_options: int = Field(default=12, ge=2)
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    seed: int = 0
    crop: tuple[float, float, float, float] | None = None
    cache_dir: str | None = None
    temperature: float | None = Field(default=None, gt=0.0, description="Overrides every system's temperature.")
    moves: list[str] = Field(
        default_factory=lambda: ["fit_rules", "refine_rules", "merge", "llm_revise", "tune_scoring"]
    )
    beam: int = Field(default=2, ge=1, description="Best versions expanded per round.")
    revisions_per_round: int = Field(default=2, ge=0)
    fit_after_revise: bool = Field(default=True, description="Also record each LLM revision with its rules refitted.")
    fit_min_images: int = Field(default=2, ge=1)
    fit_min_evidence: float = Field(default=1.0, ge=0.0, description="Paired t-statistic a rule change needs.")
    search_budget: int = Field(default=30, ge=1, description="Val evaluations per knob-search/selection call.")
    storage: str | None = Field(
        default=None,
        description="Optuna storage of knob_search: an RDB URL (sqlite:///x.db) or a .journal path; "
        "default runs/<name>/search.journal. Runs sharing one storage share the studies of identical searches.",
    )
    prompts_dir: str | None = Field(
        default=None,
        description="Proposer instructions (propose.md, revise.md, "
        "complete_rules.md), e.g. an earlier run's prompts/ folder.",
    )
    optimize_proposer: bool = Field(default=False, description="GEPA over the proposer's instructions first.")
    proposer_opt_calls: int = Field(default=12, ge=2, description="LLM calls the proposer optimization may spend.")
    min_delta: float = Field(default=0.005, ge=0.0)
    patience: int = Field(default=3, ge=1)
    max_evaluations: int | None = Field(default=200, ge=1)
    max_llm_calls: int | None = Field(default=None, ge=0)
    max_usd: float | None = Field(default=None, ge=0.0)
    max_wall_s: float | None = Field(default=None, gt=0.0)
    bootstrap: int = Field(default=2000, ge=100)
    encoder_options: list[str] = Field(
        default_factory=list,
        description="KEY=VALUE for the model's encode calls (text.KEY / image.KEY for one side), as --encoder-option.",
    )
    similarity: str = Field(default="cosine", description="cosine, or maxsim for multi-vector encoders.")
    trust_remote_code: bool = Field(default=False, description="Allow the model folder's own Python code.")
    transfer_models: list[str] = Field(
        default_factory=list,
        description="Other encoders the final report also scores "
        "best, first proposal and baseline on (same test split).",
    )

    @field_validator("moves")
    @classmethod
    def _known_moves(cls, moves: list[str]) -> list[str]:
        unknown = [m for m in moves if m not in MOVE_NAMES]
        if unknown:
            raise ValueError(f"unknown move {unknown[0]!r}; choose from {', '.join(MOVE_NAMES)}")
        return moves

    @field_validator("similarity")
    @classmethod
    def _known_similarity(cls, similarity: str) -> str:
        if similarity not in ("cosine", "maxsim"):
            raise ValueError(f"unknown similarity {similarity!r}; use cosine or maxsim")
        return similarity

    @field_validator("encoder_options")
    @classmethod
    def _options_are_pairs(cls, options: list[str]) -> list[str]:
        bad = [item for item in options if "=" not in item or not item.partition("=")[0].strip()]
        if bad:
            raise ValueError(f"encoder option {bad[0]!r} is not KEY=VALUE, e.g. text.task=retrieval")
        return options

    @model_validator(mode="after")
    def _check_fractions(self) -> RunConfig:
        if self.fractions[1] <= 0:
            raise ValueError(
                f"fractions {list(self.fractions)} leave every class without val images; "
                "the loop selects on val, use e.g. 0.6,0.2,0.2"
            )
        if any(f <= 0 for f in self.fractions) or abs(sum(self.fractions) - 1.0) > 1e-6:
            raise ValueError(f"fractions {list(self.fractions)} must be three positive numbers summing to 1")
        if self.classes is not None and not self.classes:
            raise ValueError("classes is an empty list; list at least two class names or leave it out")
        return self

    @property
    def run_dir(self) -> Path:
        """``runs_dir / name``."""
        return Path(self.runs_dir) / self.name

    def to_yaml(self) -> str:
        """The YAML stored as ``run.yaml``."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "config"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def load_run_config(source: Path | str | dict[str, Any], **overrides: Any) -> RunConfig:
    """Parse a ``run.yaml`` (path) or dict, apply non-None ``overrides``; InputError when invalid."""
    if isinstance(source, dict):
        data, where = dict(source), "run config"
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(
                f"cannot read run config {path} ({type(exc).__name__}); pass a readable run.yaml"
            ) from None
        if not isinstance(data, dict):
            raise InputError(f"run config {path} must be a YAML mapping; see a run's run.yaml for the format")
        where = str(path)
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where}: {_first_error(exc)}; fix the value or the flag") from None
