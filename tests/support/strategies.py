"""Hypothesis strategies for hostile object keys: the whole character space, with its troublemakers made likely."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

#: Pieces a plain character draw would rarely hit: line ends (XML normalises \r), other C0 controls and NUL,
#: non-characters XML cannot carry, XML and URL specials, % sequences, non-NFC sequences and look-alikes.
PIECES = (
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x01",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "&",
    "&amp;",
    "&#13;",
    "<",
    ">",
    "]]>",
    '"',
    "'",
    "%",
    "%0D",
    "%25",
    "%2F",
    "%zz",
    "+",
    " ",
    ",",
    "?",
    "#",
    "\\",
    "~",
    "e\u0301",
    "\u00e9",
    "\u212b",
    "\u00c5",
    "\U0001f600",
    "\U0010ffff",
)

#: One character from anywhere but the surrogates (no decoded manifest or store answer holds a lone one).
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])

#: Text with hostile pieces mixed into arbitrary characters.
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), ANY_CHARACTER), min_size=1, max_size=12).map("".join)


def seaweed_keeps(key: str) -> bool:
    """SeaweedFS aliases these paths (``a//b``, ``a\\b``, ``.`` and ``..`` segments): a missing key must stay
    missing, never become another object's name."""
    return "\\" not in key and not {"", ".", ".."} & set(key.split("/"))


#: Keys under ``gone/`` that do not exist, so an operation on them fails: hostile text, each at most 1,024 bytes.
missing_keys = st.lists(
    hostile_text.map(lambda text: f"gone/{text}").filter(lambda k: len(k.encode()) <= 1024 and seaweed_keeps(k)),
    min_size=3,
    max_size=8,
    unique=True,
)

#: For a property test against real servers: one drawn example a run (each costs seconds), no shrinking, no deadline.
one_real_example = settings(
    max_examples=1,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
