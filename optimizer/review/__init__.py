"""Human review of a run: evidence per rule, edits and locks saved as new versions, a local page."""

from cotclip.optimizer.review.edits import EditBatch, EditError, apply_edits, parse_edits

__all__ = ["EditBatch", "EditError", "apply_edits", "parse_edits"]
