"""Proposers: where systems come from (an LLM, or a simulation on synthetic worlds).

The contract lives in ``_base``; the names other packages use are re-exported here.
"""

from cotclip.optimizer.proposers._base import ProposalTask, Proposer, ScoredVersion

__all__ = ["ProposalTask", "Proposer", "ScoredVersion"]
