"""Every ``--flag`` an error, hint or help text names exists on the command that can show it (issue 13).

The source is read as text (never imported for this): every string literal outside
docstrings and outside the option declarations themselves is scanned for ``--flags``.
``REACH`` says which commands can show the strings of each module (or ``module::function``);
a module that names a flag and is not in ``REACH`` fails the test, so a new message must
say where it can appear. A flag written after ``cotclip <command>`` in the same string is
checked against that command instead (a hint that points at another command).

Not covered: ``review`` and ``export`` of a run dir re-load the run's data from its
``run.yaml``, which ``optimize`` validated when it started; a data error there (files
changed since) names optimize's flags.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer.main

from cotclip.cli import _commands  # noqa: F401  (registers every command)
from cotclip.cli._app import app

ROOT = Path(__file__).resolve().parents[3]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMAND = re.compile(r"cotclip (world \w+|\w+)")

DATA = ("evaluate", "baseline", "optimize")
LLM = ("propose", "optimize", "demo")
ENCODERS = ("evaluate", "baseline", "optimize", "predict", "export", "transfer")  # the commands with --model
REACH: dict[str, tuple[str, ...]] = {
    "cotclip/cli/_adaptive_options.py": ("evaluate", "predict"),
    "cotclip/cli/_app.py": (),  # only --help, which every command has
    "cotclip/cli/_options.py": ("evaluate", "baseline"),
    "cotclip/cli/_options.py::check_temperature": ("evaluate",),
    "cotclip/cli/eval_cmds.py": ("evaluate", "baseline"),
    "cotclip/cli/eval_cmds.py::baseline_command": ("baseline",),
    "cotclip/cli/optimize_cmds.py": ("optimize",),
    "cotclip/cli/_optimize_options.py": ("optimize",),
    "cotclip/cli/_optimize_options.py::check_proposer": ("optimize", "demo"),
    "cotclip/cli/propose_cmds.py": ("propose",),
    "cotclip/cli/review_cmds.py::predict_command": ("predict",),
    "cotclip/cli/review_cmds.py::review_command": ("review",),
    "cotclip/_data.py": ("evaluate", "baseline"),
    "cotclip/_evaluate.py": ("evaluate", "baseline"),
    "cotclip/_evaluate.py::baseline": ("baseline",),
    "cotclip/_evaluate.py::evaluate": ("evaluate",),
    "cotclip/_export.py": ("export",),
    "cotclip/_predict.py": ("predict",),
    "cotclip/_export.py::load_system_or_run": ("export",),  # predict never passes a version
    "cotclip/_optimize.py": ("optimize",),
    "cotclip/_demo.py": ("demo",),
    "cotclip/_propose.py": ("propose",),
    "cotclip/_review.py": ("review",),
    "cotclip/_systems.py": ("export",),  # `import` writes fmt="json": no format error
    "cotclip/cli/systems_cmds.py": ("export",),  # `import` calls _write with fmt="json": no format error
    "cotclip/_world.py::describe_world": ("world describe",),
    "cotclip/_world.py::world_oracle": ("world oracle",),
    "cotclip/_transfer.py": ("transfer",),
    "cotclip/_embed.py": ("embed",),
    "cotclip/_review.py::review_page": ("review",),
    "optimizer/llm/lm.py": LLM,
    "optimizer/llm/spec.py": LLM,
    "optimizer/llm/lm.py::_check_credentials": ("propose", "optimize"),  # demo's local server has an api_base
    "optimizer/llm/lm.py::_wall_spent": ("optimize",),  # only optimize sets a deadline
    "optimizer/llm/usage.py": ("propose", "optimize"),
    "optimizer/llm/models.py": LLM,
    "optimizer/loop/": ("optimize",),
    "optimizer/proposers/tuning.py": ("optimize",),
    "optimizer/proposers/tuning.py::check_prompts_dir": ("propose", "optimize"),
    "optimizer/proposers/_base.py": ("propose", "optimize"),
    "optimizer/proposers/llm.py": LLM,
    "optimizer/proposers/signatures.py": ("propose", "optimize"),
    "optimizer/proposers/simulated.py": ("propose", "optimize"),
    "optimizer/proposers/staged.py": ("optimize", "demo"),
    "optimizer/review/": ("review",),
    "optimizer/review/session.py::_versions_and_pick": ("review", "export"),
    "scoring/baselines.py": ("baseline",),
    "scoring/cache.py": ("evaluate", "baseline", "optimize", "review", "export", "demo"),
    "scoring/deploy/classifier.py": ("predict",),
    "scoring/deploy/compiled.py": ("predict",),
    "scoring/deploy/compiled_classifier.py": ("predict",),
    "scoring/data/": DATA,
    "scoring/encoders/": ENCODERS,
    "scoring/deploy/compiled_maxsim.py": ("predict", "export"),
    "scoring/registry.py::load_encoder": ENCODERS,
    "scoring/similarity.py": ENCODERS,
    "scoring/embedding.py::_joined": ENCODERS,  # an encoder whose embeddings contradict its --similarity
    "cotclip/cli/transfer_cmds.py": ("transfer",),
    "scoring/evaluation.py": ("evaluate", "baseline"),
    "scoring/registry.py::load_dataset": (*DATA, "propose"),
    "scoring/scorer.py": ("evaluate", "baseline"),
    "scoring/labels.py": ("evaluate", "baseline"),
    "scoring/simulation/": (*DATA, "predict", "export"),
    "scoring/simulation/dataset.py::load_dataset": DATA,
    "scoring/bulk_embed.py": ("embed",),
    "scoring/ray_engine.py": ("embed",),
    "cotclip/cli/embed_cmds.py": ("embed",),
    "optimizer/llm/concurrency.py": ("propose", "optimize"),
    "optimizer/llm/server.py::__init__": ("propose", "optimize"),  # --llm-concurrency slots; demo runs one
    "optimizer/search/storage.py": ("optimize",),
}
#: Strings that name flags of another program, not of cotclip.
FOREIGN = {
    "optimizer/llm/server.py::start",  # llama-server's command line
    "optimizer/llm/models.py::_download",  # pip's
    "scoring/ray_engine.py::_check_address",
}  # `ray start --head` (its --address is embed's, checked above)


def command_flags() -> dict[str, set[str]]:
    """``{"optimize": {"--data", ...}, "world describe": {...}}`` from the typer app."""
    found: dict[str, set[str]] = {}

    def walk(command, prefix):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*prefix, name])
            return
        found[" ".join(prefix)] = {o for p in command.params for o in [*p.opts, *p.secondary_opts]} | {"--help"}

    walk(typer.main.get_command(app), [])
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _declarations(tree: ast.AST) -> set[int]:
    """The flag names given to typer.Option/Argument (declarations, not texts)."""
    return {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("Option", "Argument")
        for arg in node.args
    }


def flag_mentions() -> list[tuple[str, str, str]]:
    """``(module::function, flag, the string)`` for every flag named in a source string."""
    mentions = []
    for folder in ("systems", "scoring", "optimizer", "cotclip"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _docstrings(tree) | _declarations(tree)
            module = path.relative_to(ROOT).as_posix()
            for top in tree.body:
                for node in ast.walk(top):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                        for flag in FLAG.findall(node.value):
                            mentions.append((f"{module}::{_function(top, node)}", flag, node.value))
    return mentions


def _function(top: ast.AST, target: ast.AST) -> str:
    """The function (a method's own name inside a class) that holds ``target``."""
    if isinstance(top, ast.ClassDef):
        for item in top.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(n is target for n in ast.walk(item)):
                return item.name
        return top.name
    return getattr(top, "name", "<module>")


def reach(where: str) -> tuple[str, ...] | None:
    """The commands that can show strings of ``module::function`` (the most specific REACH key wins)."""
    module = where.split("::")[0]
    for key in (where, module, *[module[: i + 1] for i in range(len(module) - 1, 0, -1) if module[i] == "/"]):
        if key in REACH:
            return REACH[key]
    return None


def _command_before(text: str, flag_at: int) -> str | None:
    named = [m.group(1) for m in COMMAND.finditer(text) if m.start() < flag_at]
    return named[-1] if named else None


def test_the_scan_finds_the_messages_it_is_about():
    mentions = flag_mentions()
    assert len(mentions) > 100
    assert any(flag == "--llm-timeout" and where.startswith("optimizer/llm/lm.py") for where, flag, _ in mentions)


@pytest.mark.parametrize("where, flag, text", flag_mentions(), ids=lambda value: value if len(value) < 60 else "")
def test_every_flag_named_in_a_message_exists_where_it_can_be_shown(where, flag, text):
    if where in FOREIGN:
        return
    flags = command_flags()
    commands = reach(where)
    assert commands is not None, f"{where} names {flag}: add to REACH which commands can show it"
    at = text.index(flag)
    named = _command_before(text, at)
    targets = (named,) if named in flags else commands
    missing = [command for command in targets if flag not in flags[command]]
    assert not missing, f"{where}: {text!r} names {flag}, which `cotclip {missing[0]}` does not have"


def test_every_resume_override_is_a_flag_of_optimize():
    from cotclip.optimizer.loop.session import RESUME_OVERRIDES, _flag

    optimize = command_flags()["optimize"]
    for key in RESUME_OVERRIDES:
        assert all(part in optimize for part in _flag(key).split("/") if part.startswith("--")), key


def test_every_run_setting_a_resume_can_name_is_a_flag_of_optimize():
    """The resume refusal names settings by flag: each RunConfig field has one, or is run.yaml-only."""
    from cotclip.optimizer.loop.config import RunConfig
    from cotclip.optimizer.loop.session import _flag

    yaml_only = {
        "llm_max_tokens",
        "beam",
        "revisions_per_round",
        "fit_after_revise",
        "fit_min_images",
        "fit_min_evidence",
        "bootstrap",
    }
    optimize = command_flags()["optimize"]
    missing = [
        key
        for key in RunConfig.model_fields
        if key not in yaml_only and not all(part in optimize for part in _flag(key).split("/") if part.startswith("--"))
    ]
    assert not missing, (
        f"RunConfig fields without an optimize flag: {missing} (add the flag or list it as run.yaml-only)"
    )
