"""How the synthetic encoder reads a prompt string: known phrases inside a template.

The encoder only ever sees final strings such as ``"This creature's body is mainly
crimson in color."``. It does not parse English; it applies this simplification:

1. The string is lower-cased and its whitespace collapsed.
2. Known phrases (every surface form the world's encoder knows, and every class name)
   are found left to right, the longest phrase winning at each position, on word
   boundaries. Each contributes its phrase vector (near its concept vector; a class
   name's vector aligns with the class identity only as much as ``name_alignment``).
3. The rest of the string, with each phrase replaced by ``{}``, is the *template*; it
   adds a shared offset derived from a hash of its words, so every option asked through
   the same template shifts alike, as prompt wording does in CLIP.
4. A string with no known phrase is one unknown phrase: a pseudo-random vector seeded by
   the hash of the whole string, uninformative about every concept.

So any template wrapping a known surface form lands near that concept, a synonym lands
a little further away, and a phrasing the encoder never learned is noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cotclip.scoring.simulation.geometry import hashed_unit_vector, unit_rows

__all__ = ["ParsedText", "TextModel", "normalize_text"]

_SPACES = re.compile(r"\s+")
_MAX_REMEMBERED_TEMPLATES = 4096


def normalize_text(text: str) -> str:
    """Lower-case, typographic apostrophes made plain, whitespace collapsed."""
    return _SPACES.sub(" ", text.replace("\u2019", "'").lower()).strip()


@dataclass(frozen=True)
class ParsedText:
    """A string read as its known phrases (in order) and the template around them."""

    phrases: tuple[str, ...]
    template: str


class TextModel:
    """Embeds strings by the known phrases they contain (see the module docstring)."""

    def __init__(self, *, seed: int, dim: int, phrase_vectors: Mapping[str, np.ndarray], template_strength: float):
        self._seed = seed
        self._dim = dim
        self._template_strength = template_strength
        self._phrases = {
            normalize_text(phrase): np.asarray(v, dtype=np.float64) for phrase, v in phrase_vectors.items()
        }
        alternatives = sorted(self._phrases, key=lambda phrase: (-len(phrase), phrase))
        body = "|".join(re.escape(phrase) for phrase in alternatives) or r"(?!x)x"
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)")
        # Prompts share few templates; remembering their offsets halves the cost per text.
        self._template_offsets: dict[str, np.ndarray] = {}

    def knows(self, phrase: str) -> bool:
        """Whether ``phrase`` (as a whole) is a phrase this model has a vector for."""
        return normalize_text(phrase) in self._phrases

    def parse(self, text: str) -> ParsedText:
        """The known phrases of ``text`` and its template (phrases replaced by ``{}``)."""
        normalized = normalize_text(text)
        phrases = tuple(match.group(0) for match in self._pattern.finditer(normalized))
        template = normalize_text(self._pattern.sub("{}", normalized)) if phrases else normalized
        return ParsedText(phrases=phrases, template=template)

    def _template_offset(self, template: str) -> np.ndarray:
        offset = self._template_offsets.get(template)
        if offset is None:
            offset = self._template_strength * hashed_unit_vector(self._seed, "template|" + template, self._dim)
            if len(self._template_offsets) < _MAX_REMEMBERED_TEMPLATES:
                self._template_offsets[template] = offset
        return offset

    def embed_one(self, text: str) -> np.ndarray:
        """The unit float64 vector of one string."""
        parsed = self.parse(text)
        if not parsed.phrases:
            return hashed_unit_vector(self._seed, "unknown|" + parsed.template, self._dim)
        vector = self._template_offset(parsed.template)
        for phrase in parsed.phrases:
            vector = vector + self._phrases[phrase]
        return unit_rows(vector)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``float32 [len(texts), dim]`` unit rows in input order."""
        rows = [self.embed_one(text) for text in texts]
        matrix = np.stack(rows) if rows else np.zeros((0, self._dim))
        return matrix.astype(np.float32)
