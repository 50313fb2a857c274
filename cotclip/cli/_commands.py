"""Imports every command module so that each registers itself on ``app``.

Add one import line per command module; keep this file free of logic.
"""

from cotclip.cli import (
    embed_cmds,  # noqa: F401
    eval_cmds,  # noqa: F401
    model_cmds,  # noqa: F401
    optimize_cmds,  # noqa: F401
    propose_cmds,  # noqa: F401
    review_cmds,  # noqa: F401
    systems_cmds,  # noqa: F401
    transfer_cmds,  # noqa: F401
    world_cmds,  # noqa: F401
)
