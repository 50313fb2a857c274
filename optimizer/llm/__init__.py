"""Talking to LLMs: a local llama-server, LM specs with retries and caching, usage and budgets."""

import os

# litellm otherwise downloads its price map at import time; cotclip never reads the network
# for prices (the bundled map is used). Set before anything here imports litellm or dspy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
