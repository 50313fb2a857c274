"""The optimization loop behind ``cotclip optimize``: propose, evaluate, diagnose, move, stop, report."""
