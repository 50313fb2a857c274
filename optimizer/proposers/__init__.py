"""Proposers: where systems come from (an LLM, or a simulation on synthetic worlds)."""
