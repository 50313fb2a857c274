"""Question selection: which groups a system asks (see ``_base`` for the ``Selector`` contract)."""

from cotclip.optimizer.selection._base import (
    Question,
    Selection,
    SelectionStep,
    Selector,
    candidate_questions,
    system_of,
)
from cotclip.optimizer.selection.all_groups import AllGroupsSelector
from cotclip.optimizer.selection.functions import select_groups
from cotclip.optimizer.selection.greedy_accuracy import ValAccuracySelector
from cotclip.optimizer.selection.greedy_information import InformationGainSelector
from cotclip.optimizer.selection.information import JointAnswers, conditional_dependence, set_information

__all__ = [
    "Question",
    "Selection",
    "SelectionStep",
    "Selector",
    "candidate_questions",
    "system_of",
    "AllGroupsSelector",
    "ValAccuracySelector",
    "InformationGainSelector",
    "JointAnswers",
    "conditional_dependence",
    "set_information",
    "select_groups",
]
