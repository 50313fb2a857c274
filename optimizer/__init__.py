"""Optimization of classification systems: proposers, search, selection, the loop, the CLI."""
