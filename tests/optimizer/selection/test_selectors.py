"""The three selectors on the pokemon-like world: contract, budgets, locks, determinism."""

from __future__ import annotations

import json

import pytest

from cotclip.optimizer.selection import (
    AllGroupsSelector,
    InformationGainSelector,
    Selector,
    ValAccuracySelector,
    candidate_questions,
    system_of,
)
from cotclip.scoring.scorer import accuracy

SELECTORS = [InformationGainSelector(), ValAccuracySelector(), AllGroupsSelector()]


def _same_option_texts(parent, child):
    for group in child.groups:
        before = parent.group(group.name)
        for class_name in parent.classes:
            old, new = parent.rule(class_name, group.name), child.rule(class_name, group.name)
            assert (old is None and new is None) or before.options[old] == group.options[new]


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.name)
def test_selection_keeps_classes_knobs_and_rule_texts(pokemon, selector):
    system, train, val, _ = pokemon
    assert isinstance(selector, Selector)
    selection = selector.select(system, train, val, budget=30)
    assert selection.system.classes == system.classes
    assert selection.system.scoring == system.scoring
    _same_option_texts(system, selection.system)
    assert selection.prompts == sum(len(g.options) for g in selection.system.groups)
    assert selection.full_prompts == sum(len(g.options) for g in system.groups)
    json.dumps(selection.to_dict())


@pytest.mark.parametrize("selector", SELECTORS[:2], ids=lambda s: s.name)
def test_budget_bounds_the_prompts_and_is_deterministic(pokemon, selector):
    system, train, val, _ = pokemon
    first = selector.select(system, train, val, budget=20)
    assert first.prompts <= 20
    assert "budget" in first.stopped_because or "raises" in first.stopped_because
    assert selector.select(system, train, val, budget=20).questions == first.questions


def test_information_gain_first_pick_is_the_most_informative_per_prompt(pokemon):
    system, train, val, _ = pokemon
    selection = InformationGainSelector(per_prompt=False, prune_options=False).select(system, train, val)
    gains = [step.details["gain_bits"] for step in selection.steps]
    assert gains[0] == max(gains)  # conditional gains shrink as the set grows here
    assert selection.steps[0].details["redundancy_bits"] == 0.0


def test_min_gain_stops_the_information_gain_selector(pokemon):
    system, train, val, _ = pokemon
    everything = InformationGainSelector(min_gain=0.0, redundancy=0.0).select(system, train, val)
    strict = InformationGainSelector(min_gain=0.3, redundancy=0.0).select(system, train, val)
    assert len(strict.questions) < len(everything.questions)
    assert "bits" in strict.stopped_because


def test_locked_groups_are_always_kept_whole(pokemon):
    system, train, val, _ = pokemon
    locked_name = system.groups[-1].name
    locked = system.evolve(locks={"groups": [locked_name], "rules": []})
    for selector in SELECTORS[:2]:
        selection = selector.select(locked, train, val, budget=15)
        assert locked.group(locked_name) in selection.system.groups


def test_pruned_question_drops_only_unused_options(pokemon):
    system, _, _, _ = pokemon
    pruned = [q for q in candidate_questions(system) if q.pruned]
    assert pruned, "the oracle has options no class uses"
    question = pruned[0]
    assert question.cost < len(system.group(question.name).options)
    child = system_of(system, [question], "test")
    _same_option_texts(system, child)


def test_val_accuracy_selector_never_ends_below_its_first_pick(pokemon):
    system, train, val, _ = pokemon
    selection = ValAccuracySelector().select(system, train, val)
    assert selection.evaluations > 0
    assert accuracy(selection.system, val) == pytest.approx(selection.steps[-1].score)
    assert [s.score for s in selection.steps] == sorted(s.score for s in selection.steps)


def test_loop_function_returns_distinct_cheaper_sub_systems(pokemon):
    from cotclip.optimizer.selection import select_groups

    system, train, val, _ = pokemon
    found = select_groups(system, train, val, seed=0, budget=40)
    assert found and len({s.fingerprint() for s in found}) == len(found)
    full = sum(len(g.options) for g in system.groups)
    for candidate in found:
        assert candidate.fingerprint() != system.fingerprint()
        assert sum(len(g.options) for g in candidate.groups) < full


def _greedy_reference(system, train, per_prompt: bool) -> tuple[str, ...]:
    """Greedy order by exact conditional information ``I(C; A_S+q) - I(C; A_S)`` (per prompt when asked),
    written from the module docstring with ``set_information`` (no redundancy charge, no minimum gain)."""
    import numpy as np

    from cotclip.optimizer.selection.greedy_information import question_answers
    from cotclip.optimizer.selection.information import set_information
    from cotclip.scoring.deploy.adaptive import answer_model_from_probabilities

    questions = candidate_questions(system, prune_options=False)
    answers = [question_answers(q, train, system.scoring.temperature) for q in questions]
    thetas = answer_model_from_probabilities(
        answers, train.label_indices(system.classes), system.classes, [q.label for q in questions], 0.5
    ).theta
    prior = np.full(len(system.classes), 1 / len(system.classes))
    chosen: list[int] = []
    while len(chosen) < len(questions):
        known = set_information([thetas[j] for j in chosen], prior) if chosen else 0.0
        gains = {
            i: set_information([thetas[j] for j in chosen + [i]], prior) - known
            for i in range(len(questions))
            if i not in chosen
        }
        chosen.append(max(gains, key=lambda i: gains[i] / questions[i].cost if per_prompt else gains[i]))
    return tuple(questions[i].label for i in chosen)


def test_per_prompt_ranks_by_information_per_prompt_and_off_by_information(pokemon):
    system, train, val, _ = pokemon
    orders = {}
    for per_prompt in (True, False):
        selector = InformationGainSelector(per_prompt=per_prompt, prune_options=False, redundancy=0.0, min_gain=0.0)
        orders[per_prompt] = selector.select(system, train, val).questions
        assert orders[per_prompt] == _greedy_reference(system, train, per_prompt)
    assert orders[True] != orders[False]  # on this world the two rankings disagree, so each is really checked
    assert InformationGainSelector().per_prompt  # the default is per prompt


def test_all_groups_selector_keeps_the_system_and_reports_a_budget_it_exceeds(pokemon):
    system, train, val, _ = pokemon
    prompts = sum(len(g.options) for g in system.groups)
    with_prior = system.evolve(scoring={**system.scoring.model_dump(), "name_prior_weight": 0.5})
    for budget, stopped in (
        (None, "every group is chosen"),
        (prompts, "every group is chosen"),
        (prompts - 1, f"every group is chosen; {prompts} prompts exceed the budget of {prompts - 1}"),
    ):
        selection = AllGroupsSelector().select(system, train, val, budget=budget)
        assert selection.method == "all-groups" and selection.system is system and selection.steps == ()
        assert selection.questions == tuple(system.group_names)  # whole groups, never the pruned variants
        assert (selection.prompts, selection.full_prompts, selection.stopped_because) == (prompts, prompts, stopped)
    prior = AllGroupsSelector().select(with_prior, budget=prompts)
    total = prompts + len(system.classes)
    assert prior.prompts == prior.full_prompts == total
    assert prior.stopped_because == f"every group is chosen; {total} prompts exceed the budget of {prompts}"


def test_val_accuracy_selector_adds_while_a_question_raises_accuracy_and_stops_when_none_does(pokemon):
    system, train, val, _ = pokemon
    selection = ValAccuracySelector(min_delta=0.01).select(system, train, val)
    scores = [s.score for s in selection.steps]
    assert len(scores) >= 2 and all(later > earlier + 0.01 for earlier, later in zip(scores, scores[1:]))
    if selection.stopped_because == "every group is chosen":  # on this world each group adds > 0.01
        assert len(selection.questions) == len(system.groups)
        return
    assert selection.stopped_because == "no remaining question raises val accuracy by more than 0.01"
    chosen = [q for q in candidate_questions(system) if q.label in selection.questions]
    for question in candidate_questions(system):
        if question.name not in {q.name for q in chosen}:
            assert accuracy(system_of(system, [*chosen, question], "check"), val) <= scores[-1] + 0.01


@pytest.mark.parametrize("settings", [{"redundancy": -0.1}, {"min_gain": -0.1}])
def test_information_gain_refuses_a_negative_redundancy_or_min_gain(pokemon, settings):
    from cotclip.systems.errors import InputError

    system, train, val, _ = pokemon
    with pytest.raises(InputError) as raised:
        InformationGainSelector(**settings).select(system, train, val)
    assert str(raised.value) == "redundancy and min_gain must be >= 0; e.g. redundancy=0.5, min_gain=0.01"
