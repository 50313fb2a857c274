"""Talking to LLMs: a local llama-server, LM specs with retries and caching, usage and budgets."""
