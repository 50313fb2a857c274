"""Imports every command module so that each registers itself on ``app``.

Add one import line per command module; keep this file free of logic.
"""
from cotclip.optimizer.cli import review_cmds  # noqa: F401
from cotclip.optimizer.cli import systems_cmds  # noqa: F401
from cotclip.optimizer.cli import world_cmds  # noqa: F401
from cotclip.optimizer.cli import optimize_cmds  # noqa: F401
from cotclip.optimizer.cli import eval_cmds  # noqa: F401
from cotclip.optimizer.cli import propose_cmds  # noqa: F401
from cotclip.optimizer.cli import model_cmds  # noqa: F401
from cotclip.optimizer.cli import transfer_cmds  # noqa: F401
from cotclip.optimizer.cli import embed_cmds  # noqa: F401
