"""Deployment, beside the scorer core: what ships after a system is chosen.

Modules: ``compiled`` (a system compiled for one encoder: prompt embeddings, rule matrix,
weights, temperature, written as ``.npz``; ``compiled_maxsim`` for multi-vector encoders),
``classifier`` (:class:`~cotclip.scoring.deploy.classifier.Classifier`: a compiled system
plus its image encoder; ``predict``, ``predict_proba``, ``explain``), ``adaptive``/
``adaptive_stops``/``adaptive_curve`` (adaptive questioning: ask the most informative group
first and stop early). The scorer core (``scoring.scorer``) knows nothing of these.
"""

__all__: list[str] = []
