"""The LLM side of the staged proposer: one short, validated call per step.

Each method asks one typed question (:mod:`.staged_signatures`), parses the raw
answer with the same repair as the one-shot proposer, keeps only what validates and
records the raw answer and what was dropped. None of them raises on a bad answer:
an unusable answer or a failed server call gives an empty result and a log line, and
the staged proposer falls back (built-in templates, rules from the images). Only a
spent budget (:class:`BudgetExhaustedError`) and an endpoint that failed every attempt
(:class:`LLMUnavailableError`: the run stops instead of asking it again) propagate.

The per-class and per-group calls of one step (the describe batches, the expand and
assign calls of the groups) go out together through one
:class:`~cotclip.optimizer.llm.concurrency.LLMExecutor`, up to its concurrency, with
the budget reserved before each paid call. Each request's seed is derived from the
step's number, the request's position in the step and its attempt, never from the
order answers arrive in, and the answers are recorded in position order: the same
seeds and cached answers give the same records and proposals at any concurrency.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

from cotclip.optimizer.llm.concurrency import LLMExecutor, LLMRequest
from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.llm.usage import Budget, Usage
from cotclip.optimizer.proposers._parse import UnusableAnswerError, parse_answer
from cotclip.optimizer.proposers.repair import normalize_text
from cotclip.optimizer.proposers.signatures import Instructions, load_instructions
from cotclip.optimizer.proposers.staged_signatures import (
    DEFAULT_TEMPLATES,
    KINDS,
    assign_signature,
    contrast_signature,
    describe_signature,
    expand_signature,
    kind_of,
    kinds_text,
    parse_attributes,
    templates_signature,
)
from cotclip.optimizer.proposers.staged_stages import ClassPhrase, StagedGroup, clean_attributes
from cotclip.systems.errors import CotclipError, LLMServerError, LLMUnavailableError

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["StagedSteps"]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[^a-z0-9]+")


class StagedSteps:
    """Budgeted, logged, validated LLM calls for the staged proposer's steps (concurrent within a step).

    ``concurrency``: how many calls of one step may be in flight at once (1: one after
    the other, in position order).
    """

    def __init__(
        self, client: LLMClient, *, budget: Budget, prompts_dir: Path | None = None, seed: int = 0, concurrency: int = 1
    ) -> None:
        self.client = client
        self.seed = seed
        self.budget = budget
        self.prompts_dir = prompts_dir
        self.executor = LLMExecutor(client, budget=budget, concurrency=concurrency)
        self.records: list[dict[str, Any]] = []
        self._instructions: dict[str, Instructions] = {}
        self.steps_asked = 0  # numbers each step; request seeds derive from it; restored on resume

    @property
    def usage(self) -> Usage:
        """LLM use so far (cached calls included)."""
        return self.executor.usage

    @property
    def model(self) -> str:
        """The LM string of the client."""
        return self.client.config.model

    def instructions(self, name: str) -> Instructions:
        """``prompts/<name>.md`` (or the replacement in ``prompts_dir``), read once."""
        if name not in self._instructions:
            self._instructions[name] = load_instructions(name, self.prompts_dir)
        return self._instructions[name]

    def prompt_hashes(self) -> dict[str, str]:
        """sha256 of every instruction file used so far."""
        return {name: i.sha256 for name, i in self._instructions.items()}

    def note(self, step: str, line: str, notes: list[str]) -> None:
        """Record a step summary (and what it repaired or dropped) in the log."""
        self.records.append({"kind": "staged-step", "step": step, "summary": line, "notes": list(notes)})

    def _begin(self) -> int:
        """Number the next step (its requests' seeds derive from the number)."""
        self.steps_asked += 1
        return self.steps_asked

    def _seed(self, number: int, position: int, attempt: int = 0) -> int:
        """The seed of one request: from the run's seed, the step's number and the request's place in it."""
        digest = hashlib.sha256(f"{self.seed}/{number}/{position}/{attempt}".encode("ascii")).digest()
        return int.from_bytes(digest[:4], "big") >> 1  # 31 bits: every server takes it

    def _ask(
        self,
        step: str,
        signature,
        inputs: dict[str, Any],
        *,
        seed: int,
        log: list[dict[str, Any]],
        temperature: float | None = None,
    ) -> Any:
        """One budgeted call; the parsed answer (a dict) or None, recorded in ``log`` either way.

        A call the budget refuses is not recorded (nothing was asked) and raises
        :class:`BudgetExhaustedError`.
        """
        record: dict[str, Any] = {"kind": f"staged-{step}", "raw": None, "error": None}
        try:
            completion = self.executor.complete(LLMRequest(signature, inputs, temperature=temperature, seed=seed))
        except LLMUnavailableError as exc:  # every attempt failed: the run stops (llm_unavailable), with its report
            log.append({**record, "error": exc.message})
            raise
        except LLMServerError as exc:
            log.append({**record, "error": exc.message})
            logger.info("staged %s: the LLM call failed: %s", step, exc.message)
            return None
        record.update(raw=completion.text, usage=completion.usage.to_dict(), request=completion.request_key)
        log.append(record)
        try:
            return parse_answer(completion.text).data
        except UnusableAnswerError as exc:
            record["error"] = str(exc)
            return None

    def _each(self, function: Callable[[T, list[dict[str, Any]]], R], items: Iterable[T]) -> list[R]:
        """``function(item, log)`` for every item, concurrently; results and records in item order.

        Every item runs to its end; then the first error in item order (a spent
        budget, an unavailable endpoint) is raised, after every record is kept.
        """

        def run(item: T) -> tuple[R | None, list[dict[str, Any]], CotclipError | None]:
            log: list[dict[str, Any]] = []
            try:
                return function(item, log), log, None
            except CotclipError as exc:
                return None, log, exc

        results, error = [], None
        for outcome in self.executor.map(run, list(items)):
            if isinstance(outcome, CotclipError):  # run() keeps its own; typed for the executor's error slots
                raise outcome
            value, log, failure = outcome
            self.records.extend(log)
            error = error or failure
            results.append(value)
        if error is not None:
            raise error
        return cast("list[R]", results)  # no failure: every value is a result of function

    # ----- the steps ---------------------------------------------------------------------
    def describe_batches(
        self, batches: list[list[str]], domain: str | None, notes: dict[str, str]
    ) -> list[dict[str, list[tuple[str, str]]]]:
        """Per batch, ``{class: [(kind, phrase), ...]}`` for the classes its answer covers (batches concurrently)."""
        number = self._begin()
        self.instructions("describe")  # read here, not by the first of the concurrent calls
        return self._each(
            lambda item, log: self._describe(number, item[0], item[1], domain, notes, log), enumerate(batches)
        )

    def _describe(
        self,
        number: int,
        position: int,
        batch: list[str],
        domain: str | None,
        notes: dict[str, str],
        log: list[dict[str, Any]],
    ) -> dict[str, list[tuple[str, str]]]:
        """One batch, asked twice at most (the second time about the classes the first answer missed)."""
        found: dict[str, list[tuple[str, str]]] = {}
        feedback = ""
        for attempt in range(2):
            missing = [c for c in batch if c not in found]
            lines = "\n".join(f"- {c}: {notes.get(c, '') or '(no note)'}" for c in missing)
            data = self._ask(
                "describe",
                describe_signature(missing, self.instructions("describe")),
                {
                    "domain": domain or "images of the listed classes",
                    "notes": lines,
                    "kinds": kinds_text(),
                    "feedback": feedback,
                },
                seed=self._seed(number, position, attempt),
                log=log,
            )
            entries = data.get("descriptions", data) if isinstance(data, dict) else None
            entries = entries.get("classes", entries) if isinstance(entries, dict) else entries
            by_name = {normalize_text(c): c for c in missing}
            for entry in entries if isinstance(entries, list) else []:
                name = by_name.get(normalize_text(entry.get("name", ""))) if isinstance(entry, dict) else None
                if name is not None and (pairs := parse_attributes(entry.get("attributes"))):
                    found.setdefault(name, pairs)
            if all(c in found for c in batch):
                break
            feedback = (
                "your previous answer gave no usable attributes for "
                + ", ".join(c for c in batch if c not in found)
                + "; answer for every class with kind and phrase"
            )
        return found

    def templates(
        self, kinds: list[str], examples: dict[str, list[str]], domain: str | None
    ) -> dict[str, tuple[str, str]]:
        """``{kind: (group name, template)}``; a built-in template where the answer's is unusable."""
        lines = "\n".join(f"- {k} ({KINDS[k]}): e.g. " + ", ".join(examples.get(k, [])) for k in kinds)
        data = self._ask(
            "questions",
            templates_signature(kinds, self.instructions("questions")),
            {"domain": domain or "images of the listed classes", "kinds": lines},
            seed=self._seed(self._begin(), 0),
            log=self.records,
        )
        entries = data.get("questions", data) if isinstance(data, dict) else None
        entries = entries.get("questions", entries) if isinstance(entries, dict) else entries
        chosen: dict[str, tuple[str, str]] = {}
        used: set[str] = set()
        for entry in entries if isinstance(entries, list) else []:
            kind = kind_of(entry.get("kind")) if isinstance(entry, dict) else None
            prompt = " ".join(str(entry.get("prompt", "")).split()) if kind else ""
            name = _NAME.sub("_", str(entry.get("name", "")).lower()).strip("_") if kind else ""
            if (
                kind in kinds
                and kind not in chosen
                and prompt.count("{}") == 1
                and len(prompt) <= 120
                and "{" not in prompt.replace("{}", "")
            ):
                copied = any(normalize_text(e) in name.replace("_", " ") for e in examples.get(kind, []))
                if not name or len(name) > 30 or copied or name in used:
                    name = self.default_template(kind)[0]  # small models name a question after an example
                if name not in used:
                    chosen[kind] = (name, prompt)
                    used.add(name)
        fallback = [k for k in kinds if k not in chosen]
        for kind in fallback:
            name, prompt = self.default_template(kind)
            chosen[kind] = (name if name not in used else f"{name}_{kind}", prompt)
            used.add(chosen[kind][0])
        self.note(
            "questions",
            f"{len(kinds) - len(fallback)} of {len(kinds)} questions from the LLM",
            [f"{k}: built-in question used (the answer's was unusable)" for k in fallback],
        )
        return chosen

    def default_template(self, kind: str) -> tuple[str, str]:
        """The built-in ``(group name, template)`` of ``kind``."""
        return DEFAULT_TEMPLATES.get(kind, (kind, f"Its {kind} is {{}}."))

    def more_values_all(self, asks: list[tuple[str, list[str]]], domain: str | None) -> list[list[str]]:
        """For each ``(kind, known values)``: the other values the LLM lists (the kinds concurrently)."""
        number = self._begin()
        self.instructions("expand")
        return self._each(
            lambda item, log: self._more_values(
                item[1][0], item[1][1], domain, seed=self._seed(number, item[0]), log=log
            ),
            enumerate(asks),
        )

    def _more_values(
        self, kind: str, known: list[str], domain: str | None, *, seed: int, log: list[dict[str, Any]]
    ) -> list[str]:
        """Other values of ``kind`` the LLM lists (short phrases, not already known)."""
        data = self._ask(
            "expand",
            expand_signature(self.instructions("expand")),
            {"domain": domain or "images of the listed classes", "kind": f"{kind} ({KINDS[kind]})", "known": known},
            seed=seed,
            log=log,
        )
        values = data.get("more", data) if isinstance(data, dict) else None
        values = values.get("values", []) if isinstance(values, dict) else values
        known_keys = {normalize_text(k) for k in known}
        cleaned = []
        for value in values if isinstance(values, list) else []:
            text = " ".join(str(value).split()).strip(" .,;:'\"")
            if (
                text
                and len(text.split()) <= 4
                and not re.search(r"[{}\[\]<>:=#*\d]", text)
                and normalize_text(text) not in known_keys
            ):
                known_keys.add(normalize_text(text))
                cleaned.append(text)
        return cleaned

    def choose_options_all(self, asks: list[tuple[StagedGroup, list[tuple[str, str]]]]) -> list[dict[str, int]]:
        """For each ``(group, pending (class, phrase) pairs)``: the options the LLM picks (the groups concurrently)."""
        number = self._begin()
        self.instructions("assign")
        return self._each(
            lambda item, log: self._choose_options(item[1][0], item[1][1], seed=self._seed(number, item[0]), log=log),
            enumerate(asks),
        )

    def _choose_options(
        self, group: StagedGroup, pending: list[tuple[str, str]], *, seed: int, log: list[dict[str, Any]]
    ) -> dict[str, int]:
        """For classes whose phrase matched no option of ``group``: the option the LLM picks (none = absent)."""
        classes = list(dict.fromkeys(c for c, _ in pending))
        lines = "\n".join(f"- {c}: {phrase}" for c, phrase in pending)
        data = self._ask(
            "assign",
            assign_signature(classes, list(group.options), self.instructions("assign")),
            {"question": group.prompt, "descriptions": lines},
            seed=seed,
            log=log,
        )
        entries = data.get("answer", data) if isinstance(data, dict) else None
        entries = entries.get("choices", entries) if isinstance(entries, dict) else entries
        by_option = {normalize_text(o): i for i, o in enumerate(group.options)}
        by_class = {normalize_text(c): c for c in classes}
        chosen: dict[str, int] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            name = by_class.get(normalize_text(entry.get("name", "")))
            index = by_option.get(normalize_text(entry.get("option", "")))
            if name is not None and index is not None and name not in chosen:
                chosen[name] = index
        return chosen

    def contrast(
        self, pair: tuple[str, str], notes: dict[str, str], domain: str | None
    ) -> tuple[list[ClassPhrase], list[ClassPhrase]]:
        """Visible attributes of each class of ``pair`` that the other lacks (cleaned against the notes).

        A phrase its class's note does not contain comes back with ``from_note`` False:
        it may become an option, but only the images may give it to a class.
        """
        first, second = pair
        text = "\n".join(f"- {c}: {notes.get(c, '') or '(no note)'}" for c in pair)
        data = self._ask(
            "contrast",
            contrast_signature(first, second, self.instructions("contrast")),
            {"domain": domain or "images of the listed classes", "pair": text, "kinds": kinds_text()},
            seed=self._seed(self._begin(), 0),
            log=self.records,
        )
        answer = data.get("differences", data) if isinstance(data, dict) else {}
        answer = answer if isinstance(answer, dict) else {}
        result = []
        for name, key in ((first, "first"), (second, "second")):
            kept, dropped = clean_attributes(name, notes.get(name), parse_attributes(answer.get(key)), list(pair))
            self.note("contrast", f"{name}: {len(kept)} phrase(s)", dropped)
            result.append(kept)
        return result[0], result[1]
