"""The scorer: how a frozen encoder answers a classification system's questions.

For image ``x`` (L2-normalised embedding) and a system with groups ``g`` (options
``o_g1..o_gk``), classes ``c`` and rules ``r(c, g)``:

1. ``cos(x, o)``: cosine of the image with the option's text embedding, the embedding of
   ``template`` with ``{}`` replaced by the option. With template variants
   (``extra_prompts``) the option's embedding is the L2-normalised mean of its templates'
   embeddings.
2. ``p_g(o|x) = softmax over the options of g of cos(x, o) / T``; ``T`` is
   ``system.scoring.temperature`` (the seed's literal 1.0; CLIP's usual 0.01) unless a
   ``temperature`` argument overrides it. Softmaxes subtract the group maximum first.
3. Class scores, ``w_g`` being the group weight:

   * ``prob_sum`` (the seed): ``S(c) = sum_g w_g * p_g(r(c,g)|x)``;
   * ``log_prob_sum``: ``S(c) = sum_g w_g * log(max(p_g(r(c,g)|x), 1e-12))``; the floor
     keeps one confidently wrong group from vetoing a class outright;
   * a null rule (``r(c,g)`` is ``None``) adds nothing to ``S(c)``;
   * name prior, when ``name_prior_weight`` ``lam > 0``: with
     ``n(c|x) = softmax over classes of cos(x, name_template with {} = c) / T``,
     ``S(c) += lam * n(c|x)`` for ``prob_sum`` and ``S(c) += lam * log(max(n(c|x), 1e-12))``
     for ``log_prob_sum``.

4. The prediction is ``argmax_c S(c)``; ties go to the first class in system order.

Under ``--similarity maxsim`` ``cos(x, o)`` is the normalised MaxSim of patches and tokens
(:mod:`cotclip.scoring.similarity`); template variants average their scores. The rest is the same.

Speed: an :class:`ImageSet` keeps one cosine matrix of its images against every prompt
string embedded so far (stored prompt-major, ``[prompts, N]``) and a compiled form of each
system it has scored (gather rows, group boundaries, rule matrix), keyed by
``System.fingerprint()``. Re-scoring a system is a row gather, a per-group softmax, then
per image the sum over groups of the rule options' terms for each of the ``U`` distinct
rule signatures (classes with identical rules share a signature, so their scores tie
exactly): one dense ``(N x Q) @ (Q x U)`` product for small problems, or, with many
options per group, ``G`` additions per (image, signature) over image tiles
(:mod:`cotclip.scoring._tiled_sums`; 20 ms instead of 32 ms at N=10,000, Q=200, C=1,000,
benchmarks/bench_scorer.py). Systems are immutable:
derive changed ones with ``System.evolve`` rather than mutating nested lists in place.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cotclip.scoring._tiled_sums import tiled_rule_argmax, tiled_rule_sums
from cotclip.scoring.labels import check_labels
from cotclip.scoring.prompt_embedder import PromptEmbedder, inverse_mean_norms
from cotclip.scoring.similarity import Embeddings, MultiVectors, normalize_embeddings, similarity_matrix
from cotclip.systems.errors import DataError
from cotclip.systems.model import System

__all__ = [
    "LOG_FLOOR",
    "PromptEmbedder",
    "ImageSet",
    "option_similarities",
    "group_probabilities",
    "class_scores",
    "predict",
    "accuracy",
]

LOG_FLOOR = 1e-12
_LOG_FLOOR_VALUE = float(np.log(LOG_FLOOR))
SCORING_PATH = "auto"  # "dense" | "tiled" | "auto" (by size); only benchmarks and tests change it
_EXP_SAFE = 40.0  # float32 exp(x) is a normal, finite number for |x| <= 87; sums of e^40 stay finite


@dataclass(frozen=True)
class _Groups:
    """Consecutive row ranges that each get their own softmax."""

    bounds: tuple[tuple[int, int], ...]  # [start, stop) of each group
    of_row: np.ndarray  # [Q] group of each row
    indicator: np.ndarray  # [G, Q] float32, 1 where the row belongs to the group

    @classmethod
    def of_sizes(cls, sizes: Sequence[int]) -> _Groups:
        """Groups of ``sizes`` consecutive rows."""
        stops = np.cumsum(sizes).tolist()
        bounds = tuple(zip([0, *stops[:-1]], stops))
        of_row = np.repeat(np.arange(len(sizes)), sizes)
        indicator = (of_row[None, :] == np.arange(len(sizes))[:, None]).astype(np.float32)
        return cls(bounds, of_row, indicator)


@dataclass(frozen=True)
class _CompiledSystem:
    """A system's scoring structures against one :class:`ImageSet`'s prompt rows."""

    template_rows: np.ndarray  # rows of the ImageSet cosine matrix, options' templates in order
    option_starts: np.ndarray | None  # reduceat starts over template_rows; None = one template each
    option_scale: np.ndarray | None  # [Q, 1] 1 / norm of the summed template embeddings
    groups: _Groups  # option rows of each group
    rule_matrix: np.ndarray  # [Q, U] group weight where a signature picks the option (dense path)
    bag_rows: np.ndarray  # [U, G] int64 option row each signature picks per group (0 where null)
    bag_weights: np.ndarray | None  # [U, G] float32 group weight (0 where null); None = all ones
    class_columns: np.ndarray  # [C] signature of each class
    first_classes: np.ndarray  # [U] first class (system order) of each signature
    name_prior: tuple[np.ndarray, _Groups] | None  # [C] rows of the class-name prompts, one group over them
    temperature: float
    log_scores: bool
    name_prior_weight: float


class ImageSet:
    """Labelled image embeddings with memoised prompt cosines and compiled systems.

    ``embeddings`` are L2-normalised on entry. ``labels[i]`` is image ``i``'s class name.
    ``max_compiled`` bounds how many compiled systems are kept (least recently used go).
    """

    def __init__(
        self, embeddings: Embeddings, labels: Sequence[str], prompts: PromptEmbedder, *, max_compiled: int = 256
    ) -> None:
        if not isinstance(embeddings, MultiVectors):
            embeddings = np.asarray(embeddings)
        if len(embeddings.shape) != 2 or embeddings.shape[0] != len(labels):
            raise ValueError(f"embeddings {embeddings.shape} do not match {len(labels)} labels")
        self.embeddings = normalize_embeddings(embeddings)  # [N, d], or N patch matrices under MaxSim
        frozen = self.embeddings.vectors if isinstance(self.embeddings, MultiVectors) else self.embeddings
        frozen.flags.writeable = False
        self.labels = list(labels)
        self.prompts = prompts
        self.compile_count = 0
        self._max_compiled = max_compiled
        self._row_of: dict[str, int] = {}
        self._cosines = np.zeros((16, len(self.labels)), dtype=np.float32)
        self._compiled: OrderedDict[str, _CompiledSystem] = OrderedDict()
        self._by_object: dict[int, tuple[weakref.ref, _CompiledSystem]] = {}
        self._label_indices: dict[tuple[str, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, positions: Sequence[int]) -> ImageSet:
        """The images at ``positions``, sharing this set's prompt embedder."""
        index = np.asarray(positions, dtype=np.intp)
        rows = self.embeddings.take(index) if isinstance(self.embeddings, MultiVectors) else self.embeddings[index]
        return ImageSet(rows, [self.labels[i] for i in index], self.prompts)

    # ----- cosines ---------------------------------------------------------------------
    def prompt_rows(self, texts: Sequence[str]) -> np.ndarray:
        """Row of each text in the prompt-major cosine matrix, embedding unseen texts in one batch."""
        unseen = list(dict.fromkeys(t for t in texts if t not in self._row_of))
        if unseen:
            new = similarity_matrix(self.prompts.embed(unseen), self.embeddings)
            start = len(self._row_of)
            if start + len(unseen) > self._cosines.shape[0]:
                grown = np.zeros((max(2 * self._cosines.shape[0], start + len(unseen)), len(self)), np.float32)
                grown[:start] = self._cosines[:start]
                self._cosines = grown
            self._cosines[start : start + len(unseen)] = new
            self._row_of.update((t, start + i) for i, t in enumerate(unseen))
        return np.fromiter((self._row_of[t] for t in texts), dtype=np.intp, count=len(texts))

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """``[N, len(texts)]`` cosines of every image with every text (memoised per text)."""
        rows = self.prompt_rows(texts)  # may grow the matrix: index it afterwards
        return self._cosines[rows].T

    def averaged_similarities(self, text_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """``[N, L]`` cosines with the L2-normalised mean embedding of each list of texts."""
        if not text_lists:
            return np.zeros((len(self), 0), dtype=np.float32)
        flat = [t for texts in text_lists for t in texts]
        starts = np.cumsum([0] + [len(texts) for texts in text_lists[:-1]])
        rows = self.prompt_rows(flat)
        summed = np.add.reduceat(self._cosines[rows], starts, axis=0)
        return (summed * inverse_mean_norms(self.prompts, text_lists)).T

    def label_indices(self, classes: Sequence[str]) -> np.ndarray:
        """Index of each image's label in ``classes``; DataError naming labels that are not classes."""
        key = tuple(classes)
        cached = self._label_indices.get(key)
        if cached is None:
            position = {name: i for i, name in enumerate(key)}
            check_labels(self.labels, key)
            cached = np.fromiter((position[label] for label in self.labels), dtype=np.intp, count=len(self))
            cached.flags.writeable = False
            self._label_indices[key] = cached
        return cached

    # ----- compiled systems --------------------------------------------------------------
    def compiled(self, system: System) -> _CompiledSystem:
        """The compiled form of ``system`` (built once per fingerprint, then reused)."""
        entry = self._by_object.get(id(system))
        if entry is not None and entry[0]() is system:
            return entry[1]
        fingerprint = system.fingerprint()
        compiled = self._compiled.get(fingerprint)
        if compiled is None:
            compiled = _compile(system, self)
            self.compile_count += 1
            self._compiled[fingerprint] = compiled
            if len(self._compiled) > self._max_compiled:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(fingerprint)
        # Fast path for the same object: fingerprint() costs more than a whole evaluation.
        self._by_object[id(system)] = (weakref.ref(system), compiled)
        weakref.finalize(system, self._by_object.pop, id(system), None)
        return compiled

    def cosine_rows(self, rows: np.ndarray) -> np.ndarray:
        """``[len(rows), N]`` rows of the prompt-major cosine matrix (a copy)."""
        return np.take(self._cosines, rows, axis=0)


def _rule_structures(system: System) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct rule signature, the option row and weight of each group; each class's signature."""
    offsets = np.cumsum([0] + [len(g.options) for g in system.groups])
    signatures: dict[tuple[int | None, ...], int] = {}
    class_columns = np.array([signatures.setdefault(system.signature(c), len(signatures)) for c in system.classes])
    rows = np.zeros((len(signatures), len(system.groups)), dtype=np.int64)
    weights = np.zeros((len(signatures), len(system.groups)), dtype=np.float32)
    for signature, column in signatures.items():
        for g, option in enumerate(signature):
            if option is not None:
                rows[column, g] = offsets[g] + option
                weights[column, g] = system.groups[g].weight
    return rows, weights, class_columns.astype(np.intp)


def _compile(system: System, images: ImageSet) -> _CompiledSystem:
    texts = [[group.option_texts(i) for i in range(len(group.options))] for group in system.groups]
    option_lists = [option for group in texts for option in group]
    sizes = [len(group.options) for group in system.groups]
    multi = any(len(option) > 1 for option in option_lists)
    template_rows = images.prompt_rows([t for option in option_lists for t in option])
    bag_rows, bag_weights, class_columns = _rule_structures(system)
    rule_matrix = np.zeros((len(option_lists), len(bag_rows)), np.float32)
    np.add.at(rule_matrix, (bag_rows, np.arange(len(bag_rows))[:, None]), bag_weights)  # nulls add 0 to row 0
    scoring = system.scoring
    name_prior = None
    if scoring.name_prior_weight > 0:
        name_rows = images.prompt_rows([scoring.name_template.replace("{}", c, 1) for c in system.classes])
        name_prior = (name_rows, _Groups.of_sizes([len(name_rows)]))
    return _CompiledSystem(
        template_rows=template_rows,
        option_starts=np.cumsum([0] + [len(o) for o in option_lists[:-1]]) if multi else None,
        option_scale=inverse_mean_norms(images.prompts, option_lists) if multi else None,
        groups=_Groups.of_sizes(sizes),
        rule_matrix=rule_matrix,
        bag_rows=bag_rows,
        bag_weights=None if np.all(bag_weights == 1.0) else bag_weights,
        class_columns=class_columns,
        first_classes=np.unique(class_columns, return_index=True)[1].astype(np.intp),
        name_prior=name_prior,
        temperature=float(scoring.temperature),
        log_scores=scoring.aggregation == "log_prob_sum",
        name_prior_weight=float(scoring.name_prior_weight),
    )


# ----- the formula, prompt-major ([Q, N]) ----------------------------------------------------
def _option_cosines(compiled: _CompiledSystem, images: ImageSet) -> np.ndarray:
    cosines = images.cosine_rows(compiled.template_rows)
    if compiled.option_starts is None:
        return cosines
    return np.add.reduceat(cosines, compiled.option_starts, axis=0) * compiled.option_scale


def _grouped_softmax(logits: np.ndarray, groups: _Groups, log: bool, bounded: bool) -> np.ndarray:
    """Softmax (or floored log-softmax) over each group of rows of ``logits``, in place.

    ``bounded`` promises ``|logits| <= _EXP_SAFE`` (cosines / T with 1/T small enough), where
    float32 ``exp`` can neither overflow nor underflow, so the usual max shift is skipped;
    otherwise each group is shifted by its maximum first. Group sums are one small product
    with the ``[G, Q]`` group indicator (much faster than ``ufunc.reduceat`` along axis 0).
    """
    if not bounded:
        for start, stop in groups.bounds:
            block = logits[start:stop]
            block -= block.max(axis=0)
    if log:
        logits -= np.take(np.log(groups.indicator @ np.exp(logits)), groups.of_row, axis=0)
        return np.maximum(logits, _LOG_FLOOR_VALUE, out=logits)
    np.exp(logits, out=logits)
    logits /= np.take(groups.indicator @ logits, groups.of_row, axis=0)
    return logits


def _temperature(compiled: _CompiledSystem, temperature: float | None) -> float:
    value = compiled.temperature if temperature is None else float(temperature)
    if not value > 0:
        raise ValueError(f"temperature must be > 0, got {value}")
    return value


def _probabilities(compiled: _CompiledSystem, images: ImageSet, temperature: float | None, log: bool) -> np.ndarray:
    logits = _option_cosines(compiled, images)
    inverse = 1.0 / _temperature(compiled, temperature)
    logits *= np.float32(inverse)
    return _grouped_softmax(logits, compiled.groups, log, bounded=inverse <= _EXP_SAFE)


def _dense_path(compiled: _CompiledSystem, n_images: int) -> bool:
    """Whether one dense product beats the tiled sums (:mod:`cotclip.scoring._tiled_sums`).

    Per (image, signature) the product does Q multiply-adds, the tiled path ~G additions and an
    argmax step; on 2 AVX2 cores the tiled path won only with many options per group,
    Q >= 7 G + 100, and >= 1e5 (image, signature) pairs (benchmarks/bench_scorer.py sizes).
    """
    if SCORING_PATH != "auto":
        return SCORING_PATH == "dense"
    options, signatures = compiled.rule_matrix.shape
    return options < 7 * compiled.bag_rows.shape[1] + 100 or n_images * signatures < 100_000


def _class_terms(
    system: System, images: ImageSet, temperature: float | None
) -> tuple[_CompiledSystem, np.ndarray, np.ndarray | None]:
    """The compiled system, ``[Q, N]`` option terms and the weighted ``[C, N]`` name-prior terms (or None)."""
    compiled = images.compiled(system)
    probabilities = _probabilities(compiled, images, temperature, compiled.log_scores)
    prior = None
    if compiled.name_prior is not None:
        name_rows, name_group = compiled.name_prior
        names = images.cosine_rows(name_rows)
        inverse = 1.0 / _temperature(compiled, temperature)
        names *= np.float32(inverse)
        prior = _grouped_softmax(names, name_group, compiled.log_scores, bounded=inverse <= _EXP_SAFE)
        prior *= np.float32(compiled.name_prior_weight)
    return compiled, probabilities, prior


def _dense_scores(compiled: _CompiledSystem, probabilities: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    scores = probabilities.T @ compiled.rule_matrix
    if compiled.rule_matrix.shape[1] != len(compiled.class_columns):
        scores = np.take(scores, compiled.class_columns, axis=1)
    if prior is not None:
        scores += prior.T
    return scores


def _class_scores(system: System, images: ImageSet, temperature: float | None) -> np.ndarray:
    compiled, probabilities, prior = _class_terms(system, images, temperature)
    if _dense_path(compiled, len(images)):
        return _dense_scores(compiled, probabilities, prior)
    sums = tiled_rule_sums(probabilities, compiled.bag_rows, compiled.bag_weights, prior, compiled.class_columns)
    if prior is None and sums.shape[1] != len(compiled.class_columns):
        sums = np.take(sums, compiled.class_columns, axis=1)
    return sums


def _predict(system: System, images: ImageSet, temperature: float | None) -> np.ndarray:
    compiled, probabilities, prior = _class_terms(system, images, temperature)
    if _dense_path(compiled, len(images)):
        return np.argmax(_dense_scores(compiled, probabilities, prior), axis=1)
    best = tiled_rule_argmax(probabilities, compiled.bag_rows, compiled.bag_weights, prior, compiled.class_columns)
    if prior is None:
        # Signatures are numbered in order of their first class, so the first best signature's
        # first class is the first best class.
        best = compiled.first_classes[best]
    return best


# ----- public API ------------------------------------------------------------------------
def option_similarities(system: System, images: ImageSet) -> np.ndarray:
    """``[N, Q]`` cosine of every image with every option (groups in order, options in order)."""
    return _option_cosines(images.compiled(system), images).T


def group_probabilities(system: System, images: ImageSet, temperature: float | None = None) -> list[np.ndarray]:
    """One ``[N, k_g]`` softmax over each group's option cosines divided by the temperature."""
    compiled = images.compiled(system)
    probabilities = _probabilities(compiled, images, temperature, log=False).T
    return [probabilities[:, start:stop] for start, stop in compiled.groups.bounds]


def class_scores(system: System, images: ImageSet, temperature: float | None = None) -> np.ndarray:
    """``[N, C]`` class scores by the module's formula (columns in system class order)."""
    return _class_scores(system, images, temperature)


def predict(system: System, images: ImageSet, temperature: float | None = None) -> np.ndarray:
    """``[N]`` index of the best class per image; ties go to the first class in system order."""
    return _predict(system, images, temperature)


def accuracy(system: System, images: ImageSet, temperature: float | None = None) -> float:
    """Share of images whose predicted class is their label (DataError for labels not in the system)."""
    if len(images) == 0:
        raise DataError("no images to evaluate on; check the data spec and the split")
    truth = images.label_indices(system.classes)
    return float(np.count_nonzero(predict(system, images, temperature) == truth)) / len(images)
