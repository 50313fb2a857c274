"""litellm's price map: the bundled copy, never a download (cotclip does not read the network for prices).

litellm fetches its model price map over the network *when it is first imported* unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set. :func:`use_bundled_price_map` sets that default just
before the first import of litellm or dspy (which imports litellm), where an LLM is
actually configured or priced; importing cotclip sets nothing. A user's own setting wins.
"""

from __future__ import annotations

import os
import sys

__all__ = ["use_bundled_price_map"]


def use_bundled_price_map() -> None:
    """Default ``LITELLM_LOCAL_MODEL_COST_MAP=True`` unless litellm is loaded (then it is too late to matter)."""
    if "litellm" not in sys.modules:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
