"""Talking to LLMs: a local llama-server, LM specs with retries and caching, usage and budgets.

Importing this package has no side effect; :mod:`.price_map` keeps litellm on its bundled
price map at the moment an LLM is configured or priced.
"""
