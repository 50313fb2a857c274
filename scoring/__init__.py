"""Scoring: encoders, the embedding cache, datasets and splits, the scorer, baselines."""
