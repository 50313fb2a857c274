"""The staged proposer: every step against scripted answers, good and garbage, and its data-side steps."""

from __future__ import annotations

import json

import pytest
from proposer_testing import scripted_client
from staged_answers import describe_answer, expand_answer, note_phrases, step_answers

from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.staged import StagedProposer
from cotclip.optimizer.proposers.staged_signatures import DEFAULT_TEMPLATES
from cotclip.optimizer.proposers.staged_stages import (
    ClassPhrase,
    clean_attributes,
    favoured_options,
    ground,
    organize,
)
from cotclip.scoring.scorer import accuracy
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import BudgetExhaustedError, ProposerError


@pytest.fixture(scope="module")
def world():
    return load_world("pokemon-like")


@pytest.fixture(scope="module")
def notes(world):
    return world.field_notes(omit_rate=0.2, error_rate=0.1, seed=0)


def _task(world, notes, n=2):
    return ProposalTask(
        classes=tuple(world.classes),
        domain="fantasy creatures",
        notes=notes,
        max_groups=6,
        max_options=12,
        n_candidates=n,
    )


def _proposer(answers, train, tmp_path, **options):
    from cotclip.optimizer.loop.moves import FitRulesMove

    fit = FitRulesMove()

    class _Train:
        pass

    context = _Train()
    context.train = train

    def refit(system):
        rules, changes = fit.fitted_rules(system, context)
        return system.evolve(rules=rules) if changes else system

    lines = []
    proposer = StagedProposer(
        scripted_client(answers, tmp_path / "cache"), train=train, fit=refit, on_step=lines.append, **options
    )
    return proposer, lines


def test_good_step_answers_give_notes_and_fitted_systems_that_beat_the_name_baseline(world, notes, pokemon, tmp_path):
    _, train, val, _ = pokemon
    proposer, lines = _proposer(step_answers(world, notes), train, tmp_path)
    systems = proposer.propose(_task(world, notes))
    assert [s.provenance.method for s in systems] == ["llm-staged", "llm-staged"]
    notes_system, fitted = systems
    assert {g.name for g in notes_system.groups} <= {
        f"{k}_question" for k in ("color", "resembles", "feature", "shape", "background")
    }
    phrases = note_phrases(world, notes)
    first = world.classes[0]
    color = next(g for g in notes_system.groups if g.name == "color_question")
    wanted = next(p for k, p in phrases[first] if k == "color")
    assert color.options[notes_system.rule(first, "color_question")].casefold() == wanted.casefold()
    assert accuracy(fitted, val) > 0.5 > 0.35  # the class-name baseline of this world is about 0.3 on val
    assert [line.split(":")[0] for line in lines if "batch" not in line] == [
        "describe",
        "sort",
        "organize",
        "expand",
        "assign",
        "ground",
        "fit",
    ]
    assert sum("describe: batch" in line for line in lines) == 4
    assert proposer.usage.calls == len([r for r in proposer.records if r.get("raw") is not None])


def test_a_garbage_describe_answer_is_asked_again_then_its_classes_fall_back_to_the_images(
    world, notes, pokemon, tmp_path
):
    _, train, _, _ = pokemon
    answers = step_answers(world, notes)
    answers = ["I like turtles", "{not json"] + answers[1:]  # batch 1: garbage twice
    proposer, _ = _proposer(answers, train, tmp_path)
    systems = proposer.propose(_task(world, notes, n=1))
    lost = world.classes[:4]
    assert all(systems[0].signature(c) for c in lost)  # rules of the lost classes fitted from images
    logged = [n for r in proposer.records if r.get("kind") == "staged-step" for n in r["notes"]]
    assert any("no description in the answer" in n and lost[0] in n for n in logged)
    describe_errors = [r for r in proposer.records if r.get("kind") == "staged-describe" and r["error"]]
    assert len(describe_errors) == 2


def test_an_unusable_question_falls_back_to_the_built_in_template(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    answers = step_answers(world, notes)
    kinds_at = len(world.classes) // 4
    answers[kinds_at] = json.dumps({"questions": {"questions": [{"kind": "color", "name": "c", "prompt": "no slot"}]}})
    proposer, _ = _proposer(answers, train, tmp_path)
    system = proposer.propose(_task(world, notes, n=1))[0]
    assert DEFAULT_TEMPLATES["color"][1] in {g.prompt for g in system.groups}


def test_only_garbage_still_proposes_from_the_notes_and_without_notes_says_what_to_do(world, notes, pokemon, tmp_path):
    _, train, val, _ = pokemon
    proposer, lines = _proposer(["garbage"] * 60, train, tmp_path)
    systems = proposer.propose(_task(world, notes))  # the notes' clauses and frames carry the run
    assert accuracy(systems[-1], val) > 0.4 > 0.35  # the class-name baseline of this world is about 0.3 on val
    assert any(line.startswith("sort:") for line in lines)
    proposer, _ = _proposer(["garbage"] * 60, train, tmp_path / "no-notes")
    with pytest.raises(ProposerError, match="described no class usably; give per-class notes"):
        proposer.propose(_task(world, {}))


def test_a_spent_budget_stops_the_proposal(world, notes, pokemon, tmp_path):
    from cotclip.optimizer.llm.usage import Budget

    _, train, _, _ = pokemon
    proposer, _ = _proposer(step_answers(world, notes), train, tmp_path, budget=Budget(max_calls=2))
    with pytest.raises(BudgetExhaustedError):
        proposer.propose(_task(world, notes))


def test_expanded_values_are_cleaned_and_kept_only_where_some_class_favours_them(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    answers = step_answers(world, notes)
    first_expand = len(world.classes) // 4 + 1
    answers[first_expand] = expand_answer(["a wibbly thing", "plorbish", "12 eyes", "{x}", "quantum foam"])
    proposer, _ = _proposer(answers, train, tmp_path)
    system = proposer.propose(_task(world, notes, n=1))[0]
    options = {o for g in system.groups for o in g.options}
    assert not options & {"12 eyes", "{x}"}  # invalid phrases never become options
    assert all(len(f) == len(g.options) for f, g in zip(favoured_options(system, train), system.groups))
    ground_notes = next(r for r in proposer.records if r.get("step") == "ground")["notes"]
    dropped = {
        fake for fake in ("a wibbly thing", "plorbish", "quantum foam") if any(repr(fake) in n for n in ground_notes)
    }
    assert dropped and not dropped & options


def test_revise_adds_what_tells_the_most_confused_pair_apart(world, notes, pokemon, tmp_path, fake_diagnostics):
    from types import SimpleNamespace

    _, train, _, _ = pokemon
    a, b = world.classes[0], world.classes[1]
    phrases = note_phrases(world, notes)
    difference = json.dumps(
        {
            "differences": {
                "first": [{"kind": k, "phrase": p} for k, p in phrases[a][:2]],
                "second": [{"kind": k, "phrase": p} for k, p in phrases[b][:2]],
            }
        }
    )
    base = world.oracle_system()
    trimmed = base.evolve(
        groups=[g.model_dump(mode="json") for g in base.groups[:1]],
        rules={c: {base.groups[0].name: base.rule(c, base.groups[0].name)} for c in base.classes},
    )
    proposer, lines = _proposer([difference], train, tmp_path)
    diagnostics = SimpleNamespace(confusions=[(a, b, 5)])
    revised = proposer.revise(trimmed, diagnostics, [])
    assert len(revised.groups) > len(trimmed.groups)
    assert lines and lines[-1].startswith(f"revise: {a} vs {b}")
    with pytest.raises(ProposerError, match="no confused pair left"):
        proposer.revise(trimmed, diagnostics, [])


def test_clean_attributes_keeps_note_phrases_and_flags_the_rest():
    kept, notes = clean_attributes(
        "Skugli",
        "Mostly crimson; looks like a lizard.",
        [
            ("color", "mostly crimson"),
            ("resembles", "a lizard"),
            ("feature", "big wings"),
            ("shape", "Skugli body"),
            ("size", "3 meters"),
            ("color", "deep red"),
            ("pose", "a " + "very " * 8 + "long phrase"),
        ],
        ["Skugli", "Other"],
    )
    assert [(p.kind, p.phrase, p.from_note) for p in kept] == [
        ("color", "crimson", True),
        ("resembles", "a lizard", True),
        ("feature", "big wings", False),
        ("color", "deep red", False),
    ]
    assert any("names a class" in n for n in notes) and any("digits" in n for n in notes)
    assert any("longer than" in n for n in notes) and any("not in its note" in n for n in notes)


def test_organize_merges_near_duplicate_phrases_under_the_runs_encoder(pokemon):
    _, train, _, _ = pokemon
    pool = [
        ClassPhrase(f"c{i}", "color", p, True)
        for i, p in enumerate(["navy", "red", "navy blue", "yellow", "purple", "white", "gray"])
    ]
    groups, notes = organize(pool, DEFAULT_TEMPLATES, embed=train.prompts.embed, max_groups=3, max_options=10)
    assert "navy blue" not in groups[0].options and "navy" in groups[0].options
    assert groups[0].merged["navy blue"] == "navy"
    assert any("'navy blue' merged into 'navy'" in n for n in notes)


def test_ground_drops_options_no_class_favours_and_nulls_their_rules(pokemon):
    oracle, train, _, _ = pokemon
    group = oracle.groups[0]
    fake = ["plorbish", "zqxv blorf", "quantum foam"]
    system = oracle.evolve(
        groups=[
            {**group.model_dump(mode="json"), "options": list(group.options) + fake},
            *[g.model_dump(mode="json") for g in oracle.groups[1:]],
        ],
        rules={
            c: {**oracle.rules[c], group.name: len(group.options)} if i == 0 else oracle.rules[c]
            for i, c in enumerate(oracle.classes)
        },
    )
    favoured = favoured_options(system, train)[0]
    assert not favoured & {len(group.options) + i for i in range(3)}
    grounded, notes = ground(system, train)
    assert not set(grounded.groups[0].options) & set(fake)
    assert grounded.rule(oracle.classes[0], group.name) is None
    assert sum("no class's images favour 'plorbish'" in n for n in notes) == 1


def test_describe_answers_for_unknown_classes_and_kinds_are_ignored(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    answers = step_answers(world, notes)
    phrases = note_phrases(world, notes)
    batch = list(world.classes[:4])
    bad = json.loads(describe_answer(phrases, batch))
    bad["descriptions"]["classes"].append({"name": "Pikachu", "attributes": [{"kind": "color", "phrase": "yellow"}]})
    bad["descriptions"]["classes"][0]["attributes"].append({"kind": "smell", "phrase": "roses"})
    answers[0] = json.dumps(bad)
    proposer, _ = _proposer(answers, train, tmp_path)
    system = proposer.propose(_task(world, notes, n=1))[0]
    assert "roses" not in {o for g in system.groups for o in g.options}
    assert list(system.classes) == list(world.classes)


def test_questions_answer_names_are_cleaned(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    answers = step_answers(world, notes)
    kinds_at = len(world.classes) // 4
    questions = json.loads(answers[kinds_at])
    questions["questions"]["questions"][0]["name"] = "Main Colour!!"
    second = questions["questions"]["questions"][1]
    example = next(p for pairs in note_phrases(world, notes).values() for k, p in pairs if k == second["kind"])
    second["name"] = example  # small models name a question after an example phrase
    answers[kinds_at] = json.dumps(questions)
    proposer, _ = _proposer(answers, train, tmp_path)
    system = proposer.propose(_task(world, notes, n=1))[0]
    names = {g.name for g in system.groups}
    assert "main_colour" in names and DEFAULT_TEMPLATES[second["kind"]][0] in names


def test_state_round_trips_so_a_resumed_run_asks_the_same_requests(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    proposer, _ = _proposer(step_answers(world, notes), train, tmp_path)
    proposer.propose(_task(world, notes, n=1))
    proposer._contrasted.add(("a", "b"))
    saved = json.loads(json.dumps(proposer.state()))
    fresh, _ = _proposer([], train, tmp_path)
    fresh.restore_state(saved)
    assert fresh.state() == saved and fresh.steps.steps_asked == proposer.steps.steps_asked > 0
    assert fresh._task == proposer._task
