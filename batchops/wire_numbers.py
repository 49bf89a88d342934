"""The one way a number is read from the wire: XML fields, query parameters, headers and console forms.

Python's ``int`` and ``float`` are generous: they take surrounding spaces, ``+5``, ``1_0``, Arabic-Indic
digits (``٣``), ``²`` via ``str.isdigit``, ``nan`` and ``inf``, and a 5,000-digit string raises
``ValueError`` only past 4,300 digits. On the wire an integer is ASCII digits with an optional leading
minus, and a decimal adds an optional ``.digits``; anything else is refused before Python converts it.
"""

from __future__ import annotations

import re

from batchops.errors import ValidationError

#: Enough for any 64-bit value with its sign; longer strings are refused before conversion.
MAX_DIGITS = 20

_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")  # [0-9], not \d: \d also matches ٣ and other scripts' digits
_INTEGER = re.compile(rf"-?{_DIGITS.pattern}")
_DECIMAL = re.compile(rf"-?{_DIGITS.pattern}(?:\.{_DIGITS.pattern})?")
_SHOWN = 40  # characters of a refused value quoted back in the message


def is_integer(value: str) -> bool:
    """True for ASCII ``-?[0-9]+`` of at most MAX_DIGITS digits."""
    return _INTEGER.fullmatch(value) is not None


def is_digits(value: str) -> bool:
    """True for ASCII ``[0-9]+`` of at most MAX_DIGITS digits (a count, a port, Unix seconds)."""
    return _DIGITS.fullmatch(value) is not None


def parse_int(value: str, name: str, lo: int, hi: int) -> int:
    """``value`` as an integer in ``lo..hi``; otherwise a ValidationError naming ``name`` and the range."""
    if not is_integer(value):
        raise ValidationError(
            f"{name} must be an integer from {lo} to {hi}, written as ASCII digits with an optional leading "
            f"minus (no spaces, plus sign or separators), not {shown(value)}",
            field=name,
        )
    number = int(value)
    if not lo <= number <= hi:
        raise ValidationError(f"{name} must be from {lo} to {hi}, not {number}", field=name)
    return number


def parse_decimal(value: str, name: str, lo: float, hi: float) -> float:
    """``value`` as a number (``12`` or ``12.5``) in ``lo..hi``; no exponents, ``nan`` or ``inf``."""
    if _DECIMAL.fullmatch(value) is None or not lo <= float(value) <= hi:
        raise ValidationError(
            f"{name} must be a number from {lo:g} to {hi:g} written as ASCII digits with an optional "
            f"fraction (e.g. 12.5), not {shown(value)}",
            field=name,
        )
    return float(value)


def shown(value: str) -> str:
    """``value`` quoted for a message, cut short: a refusal must not echo a megabyte back."""
    return repr(value) if len(value) <= _SHOWN else f"{value[:_SHOWN]!r}… ({len(value)} characters)"
