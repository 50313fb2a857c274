"""Built-in English vocabularies of the planted-attribute world, one per attribute group.

Every value is a row ``"canonical|synonym|synonym"``: the first surface form is the
canonical (best) wording, the others are synonyms or the same noun without its article.
A world keeps the first ``surface_forms`` of them as phrasings the synthetic encoder
knows; anything else is an unknown phrase to it. Surface forms are unique across all
groups (case-insensitively) so that a phrase always means one concept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Vocabulary", "VOCABULARIES", "vocabulary", "fantasy_names"]


@dataclass(frozen=True)
class Vocabulary:
    """One attribute group's vocabulary: a prompt template, a notes clause and the values."""

    group: str
    prompt: str
    note_clause: str
    values: tuple[tuple[str, ...], ...]

    def canonical(self, index: int) -> str:
        """The best surface form of value ``index``."""
        return self.values[index][0]


def _rows(*rows: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(form.strip() for form in row.split("|")) for row in rows)


_COLOR = _rows(
    "red|bright red|reddish",
    "crimson|deep red|crimson red",
    "orange|bright orange|orangey",
    "yellow|bright yellow|yellowish",
    "gold|golden|gold-colored",
    "green|bright green|greenish",
    "dark green|forest green|deep green",
    "teal|blue-green|teal blue",
    "light blue|sky blue|pale blue",
    "blue|royal blue|bluish",
    "navy blue|dark blue|navy",
    "purple|violet|purplish",
    "lavender|pale purple|lilac",
    "pink|rosy pink|pinkish",
    "magenta|fuchsia|hot pink",
    "brown|chocolate brown|brownish",
    "tan|light brown|beige",
    "white|snow white|pure white",
    "cream|off-white|ivory",
    "gray|grey|grayish",
    "silver|metallic silver|silvery",
    "black|jet black|pitch black",
    "maroon|dark red|burgundy",
    "turquoise|aqua|cyan",
    "olive|olive green|khaki",
    "charcoal|dark gray|slate gray",
)
_FORM = _rows(
    "a lizard|lizard|a lizard-like creature",
    "a wolf|wolf|a wolf-like beast",
    "a fox|fox|a fox-like animal",
    "a bird|bird|a bird-like creature",
    "a fish|fish|a fish-like creature",
    "a turtle|turtle|a tortoise",
    "a snake|snake|a serpent",
    "a dragon|dragon|a dragon-like beast",
    "a frog|frog|a toad-like creature",
    "a cat|cat|a feline",
    "a dog|dog|a canine creature",
    "a bear|bear|a bear-like creature",
    "a mouse|mouse|a rodent",
    "a rabbit|rabbit|a bunny",
    "a bat|bat|a bat-like creature",
    "a butterfly|butterfly|a moth",
    "a beetle|beetle|a bug",
    "a spider|spider|an arachnid",
    "a crab|crab|a crustacean",
    "an octopus|octopus|a squid-like creature",
    "a jellyfish|jellyfish|a jelly-like blob",
    "a plant creature|plant creature|a walking plant",
    "a rock golem|rock golem|a stone giant",
    "a ghost|ghost|a phantom",
    "a humanoid|humanoid|a human-like figure",
    "a monkey|monkey|an ape",
    "a horse|horse|a pony",
    "a deer|deer|a stag",
    "a sheep|sheep|a woolly ram",
    "a pig|pig|a boar",
    "a whale|whale|a dolphin-like creature",
    "a caterpillar|caterpillar|a larva",
    "a wasp|wasp|a bee-like insect",
    "a dinosaur|dinosaur|a reptilian beast",
    "a robot|robot|a mechanical creature",
    "a doll|doll|a puppet",
)
_TRAIT = _rows(
    "large wings|big wings|huge wings",
    "a single horn|one horn|a lone horn",
    "two curved horns|curved horns|a pair of horns",
    "a long tail|long tail|a lengthy tail",
    "a flaming tail|a fiery tail|a burning tail",
    "a glowing orb|a shining orb|a luminous orb",
    "sharp claws|long claws|big claws",
    "large fangs|big fangs|sharp fangs",
    "a sharp beak|a pointed beak|a hooked beak",
    "big eyes|large eyes|huge eyes",
    "a third eye|an extra eye|a forehead eye",
    "long ears|large ears|tall ears",
    "a leaf on its head|a sprout on its head|a leafy crest",
    "a flower on its back|a blossom on its back|a bloom on its back",
    "a shell on its back|a hard shell|a carapace",
    "metal armor plates|armor plates|steel plates",
    "a spiked back|back spikes|a row of spikes",
    "tentacles|long tentacles|many tentacles",
    "antennae|long antennae|feelers",
    "a fiery mane|a flaming mane|a mane of fire",
    "a crystal on its forehead|a forehead gem|a jewel on its brow",
    "a mustache|whiskers|a long mustache",
    "a crown|crown|a royal crest",
    "a scarf|scarf|a neck scarf",
    "icy spikes|ice crystals|frost spikes",
    "an electric tail|a lightning tail|a zigzag tail",
    "a ring on its chest|a chest ring|a circle on its chest",
    "a drill nose|a drill on its nose|a spinning drill",
    "a pair of pincers|pincers|big pincers",
    "a club tail|a clubbed tail|a tail club",
    "a bushy tail|bushy tail|a fluffy tail",
    "a hood|hood|a cobra hood",
    "webbed feet|webbed paws|flippers",
)
_SHAPE = _rows(
    "four-legged|on four legs|quadruped",
    "two-legged|bipedal|on two legs",
    "serpentine|snake-like|long and coiling",
    "round and plump|round|chubby",
    "tall and slender|slender|lanky",
    "bulky and armored|bulky|hulking",
    "winged and slender|winged|sleek and winged",
    "long and worm-like|worm-like|wormlike",
    "upright and humanoid|upright|human-shaped",
    "flat and wide|flat|pancake-like",
    "spherical|ball-shaped|orb-like",
    "many-legged|multi-legged|with many legs",
    "stocky and short|stocky|squat",
    "streamlined|torpedo-shaped|sleek",
    "blob-like|shapeless|amorphous",
    "tree-like|treelike|like a small tree",
    "star-shaped|starlike|five-pointed",
    "long-necked|with a long neck|giraffe-like",
)
_BACKGROUND = _rows(
    "a volcanic ground|volcanic ground|a lava field",
    "a green forest|green forest|a dense forest",
    "outer space|the cosmos|a starry sky",
    "a rocky battlefield|rocky battlefield|a rocky arena",
    "a calm blue lake|a calm lake|a still lake",
    "a sunny field|sunny field|a grassy meadow",
    "a snowy mountain|snowy mountain|a snowfield",
    "a sandy desert|desert|sand dunes",
    "a sandy beach|beach|a seashore",
    "the deep ocean|deep ocean|the seabed",
    "a dark cave|dark cave|a cavern",
    "a city street|city street|an urban street",
    "a night sky|night sky|a moonlit sky",
    "a purple psychic room|psychic room|a purple chamber",
    "a red sky with embers|a sky with embers|an ember sky",
    "a swamp|swamp|a marsh",
    "a jungle|jungle|a rainforest",
    "a waterfall|waterfall|a cascade",
    "a ruined temple|ruined temple|ancient ruins",
    "a flower garden|flower garden|a garden",
    "a power plant|power plant|a factory",
    "a haunted graveyard|graveyard|a cemetery",
    "a cloudy sky|cloudy sky|the clouds",
    "a frozen tundra|tundra|an icy plain",
    "a crystal cave|crystal cave|a glittering grotto",
)
_TEXTURE = _rows(
    "scaly|scales|covered in scales",
    "furry|fur|covered in fur",
    "feathered|feathers|covered in feathers",
    "slimy|slime|slick and slimy",
    "rocky|stony|rough like stone",
    "metallic|metal|steely",
    "smooth|smooth skin|sleek skin",
    "leathery|leather|tough hide",
    "spiky|prickly|bristly",
    "woolly|wool|fleecy",
    "crystalline|glassy|gem-like",
    "leafy|leaves|covered in leaves",
    "fiery|flames|made of fire",
    "ghostly|translucent|see-through",
)
_SIZE = _rows(
    "tiny|minuscule|very small",
    "small|little|small-sized",
    "medium-sized|medium|average-sized",
    "large|big|sizable",
    "huge|enormous|gigantic",
    "pocket-sized|palm-sized|hand-sized",
    "towering|colossal|massive",
    "knee-high|knee height|dog-sized",
)
_PATTERN = _rows(
    "stripes|striped|bands",
    "spots|spotted|dots",
    "rings|ringed|circles",
    "zigzags|zigzag lines|jagged lines",
    "no markings|plain|unmarked",
    "patches|patchy|blotches",
    "swirls|swirling lines|spirals",
    "diamonds|diamond shapes|rhombuses",
    "speckles|speckled|flecks",
    "stars|star marks|star shapes",
    "a mask|mask markings|a face mask",
    "glowing lines|luminous lines|neon lines",
)
_POSE = _rows(
    "flying|in flight|soaring",
    "swimming|underwater|diving",
    "standing|standing still|upright stance",
    "sitting|seated|sitting down",
    "running|sprinting|dashing",
    "sleeping|asleep|napping",
    "curled up|coiled|curled",
    "roaring|howling|shouting",
    "leaping|jumping|pouncing",
    "crouching|hunched|crouched",
    "attacking|striking|lunging",
    "floating|hovering|levitating",
)

VOCABULARIES: dict[str, Vocabulary] = {
    v.group: v
    for v in (
        Vocabulary("color", "This creature's body is mainly {} in color.", "mostly {}", _COLOR),
        Vocabulary("form", "It looks like {}.", "looks like {}", _FORM),
        Vocabulary("trait", "Its most notable feature is {}.", "notable for {}", _TRAIT),
        Vocabulary("shape", "The body shape can be described as {}.", "{} in build", _SHAPE),
        Vocabulary("background", "The background looks like {}.", "usually pictured against {}", _BACKGROUND),
        Vocabulary("texture", "Its body surface is {}.", "its body surface is {}", _TEXTURE),
        Vocabulary("size", "Compared with a person, it is {}.", "{} next to a person", _SIZE),
        Vocabulary("pattern", "Its body is marked with {}.", "marked with {}", _PATTERN),
        Vocabulary("pose", "It is shown {}.", "often shown {}", _POSE),
    )
}


def vocabulary(group: str) -> Vocabulary:
    """The built-in vocabulary called ``group`` (KeyError if there is none)."""
    return VOCABULARIES[group]


_ONSETS = (
    "b",
    "br",
    "ch",
    "d",
    "dr",
    "f",
    "g",
    "gl",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "sk",
    "sn",
    "t",
    "th",
    "tr",
    "v",
    "vr",
    "w",
    "z",
    "zh",
)
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ia", "y", "ou")
_CODAS = ("", "", "n", "r", "x", "l", "th", "sh", "m", "ck", "z")


def fantasy_names(count: int, rng: np.random.Generator, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``count`` distinct made-up creature names, none equal (case-insensitively) to ``exclude``."""
    names: dict[str, None] = {}
    while len(names) < count:
        syllables = 2 + int(rng.integers(0, 4) == 0)
        stem = "".join(
            _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))] for _ in range(syllables)
        )
        name = stem + _CODAS[rng.integers(len(_CODAS))]
        if name not in exclude:
            names.setdefault(name.capitalize(), None)
    return list(names)
