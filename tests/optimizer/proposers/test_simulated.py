"""The SIMULATED proposer: reads a synthetic world's notes, injects mistakes, revises from diagnostics."""

from types import SimpleNamespace

import pytest

from cotclip.optimizer.proposers import ProposalTask, Proposer
from cotclip.optimizer.proposers.simulated import SimulatedProposer, SimulationErrors, simulated_proposer_for
from cotclip.scoring.data import Dataset
from cotclip.scoring.simulation.dataset import load_dataset
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import InputError, ProposerError

PERFECT = SimulationErrors(
    wrong_option=0,
    paraphrase=0,
    unknown_phrase=0,
    missing_group=0,
    spurious_option=0,
    notes_omit=0,
    notes_error=0,
    fix_disagreeing=1,
    rephrase_unreliable=1,
)


@pytest.fixture(scope="module")
def world():
    return load_world("pokemon-like")


def task(world, n=3):
    return ProposalTask(tuple(world.classes), n_candidates=n, max_groups=8, max_options=12)


def test_without_mistakes_it_recovers_the_oracle(world):
    proposer = SimulatedProposer(world, errors=PERFECT)
    assert isinstance(proposer, Proposer)
    (system,) = proposer.propose(task(world, 1))
    oracle = world.oracle_system()
    for class_name in world.classes:
        for group in oracle.groups:
            chosen = system.group(group.name).options[system.rule(class_name, group.name)]
            assert chosen == group.options[oracle.rule(class_name, group.name)]
    assert system.provenance.method == "simulated-propose" and "SIMULATION" in system.notes[0]


def test_mistake_rates_make_diverse_imperfect_candidates_deterministically(world):
    first = SimulatedProposer(world, seed=3).propose(task(world))
    again = SimulatedProposer(world, seed=3).propose(task(world))
    assert [s.fingerprint() for s in first] == [s.fingerprint() for s in again]
    assert len({s.fingerprint() for s in first}) == 3
    assert all(s.provenance.details["simulation"] for s in first)
    assert sum(s.provenance.details["wrong_rules"] for s in first) > 0


def test_revise_fixes_disagreeing_rules_and_drops_unused_options(world):
    proposer = SimulatedProposer(world, errors=PERFECT)
    (system,) = proposer.propose(task(world, 1))
    cls, group = world.classes[0], system.groups[0].name
    wrong = (system.rule(cls, group) + 1) % len(system.group(group).options)
    broken = system.evolve(rules={**system.to_dict()["rules"], cls: {**system.to_dict()["rules"][cls], group: wrong}})
    diagnostics = SimpleNamespace(
        disagreeing_rules=[(cls, group, wrong, system.rule(cls, group), 0.9)],
        group_reliability={},
        confusions=[],
        identical_signatures=[],
    )
    revised = proposer.revise(broken, diagnostics, [])
    assert revised.rule(cls, group) == system.rule(cls, group)
    assert revised.provenance.parent == broken.name and revised.provenance.details["fixed_rules"] == 1


def test_revise_rephrases_unreliable_groups_and_adds_a_missing_group(world):
    errors = SimulationErrors(
        paraphrase=1.0,
        unknown_phrase=0,
        wrong_option=0,
        spurious_option=0,
        missing_group=0,
        notes_omit=0,
        notes_error=0,
        rephrase_unreliable=1,
    )
    proposer = SimulatedProposer(world, errors=errors)
    (system,) = proposer.propose(ProposalTask(tuple(world.classes), n_candidates=1, max_groups=2, max_options=12))
    unreliable = system.groups[0].name
    diagnostics = SimpleNamespace(
        disagreeing_rules=[],
        group_reliability={unreliable: 0.1},
        confusions=[(world.classes[0], world.classes[1], 3)],
        identical_signatures=[],
    )
    revised = proposer.revise(system, diagnostics, [])
    canonical = set(world.group(unreliable).values)
    assert set(revised.group(unreliable).options) & canonical
    assert len(revised.groups) == 3 and revised.provenance.details["added_group"]


def test_revise_keeps_locked_rules(world):
    proposer = SimulatedProposer(world, errors=PERFECT)
    (system,) = proposer.propose(task(world, 1))
    cls, group = world.classes[0], system.groups[0].name
    locked = system.evolve(locks={"groups": [], "rules": [[cls, group]]})
    other = (system.rule(cls, group) + 1) % len(system.group(group).options)
    diagnostics = SimpleNamespace(
        disagreeing_rules=[(cls, group, system.rule(cls, group), other, 0.9)],
        group_reliability={},
        confusions=[],
        identical_signatures=[],
    )
    assert proposer.revise(locked, diagnostics, []).rule(cls, group) == system.rule(cls, group)


def test_it_refuses_anything_but_a_synthetic_world():
    with pytest.raises(ProposerError, match="only on synthetic worlds"):
        SimulatedProposer({"classes": ["a", "b"]})
    real = Dataset(source="/data/pokemon", identity="local:abc", images=[], labels=[])
    with pytest.raises(ProposerError, match="only on synthetic worlds"):
        simulated_proposer_for(real)


def test_it_refuses_classes_outside_the_world(world):
    with pytest.raises(ProposerError, match="not in the synthetic world"):
        SimulatedProposer(world).propose(ProposalTask(("Pikachu", world.classes[0])))


def test_synthetic_dataset_gives_its_world_and_rates_are_checked():
    proposer = simulated_proposer_for(load_dataset("pokemon-like"), seed=2)
    assert proposer.world.name == "pokemon-like" and proposer.usage.calls == 0
    with pytest.raises(InputError, match="probability"):
        SimulationErrors(wrong_option=1.5)


def test_revising_from_real_diagnostics_improves_a_flawed_candidate(world):
    from cotclip.scoring.diagnostics import diagnose
    from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
    from cotclip.scoring.simulation.encoder import load_encoder

    images = ImageSet(world.image_embeddings, world.labels, PromptEmbedder(load_encoder("pokemon-like")))
    errors = SimulationErrors(wrong_option=0.3, fix_disagreeing=1.0)
    proposer = SimulatedProposer(world, errors=errors, seed=5)
    (system,) = proposer.propose(task(world, 1))
    system = system.evolve(scoring=world.oracle_system().scoring)
    revised = proposer.revise(system, diagnose(system, images), [])
    assert revised.provenance.details["fixed_rules"] > 0
    assert accuracy(revised, images) > accuracy(system, images)
