"""统一社会信用代码 (GB 32100-2015) with real check characters, so partners' validators accept them.

Layout: registration authority (1) · entity type (1) · administrative division (6) ·
organisation code (9, itself ending in a GB 11714 check character) · check character (1).
"""

from __future__ import annotations

import random

__all__ = ["ALPHABET", "credit_code", "is_valid_credit_code"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def _check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def _organisation_check(body8: str) -> str:
    # GB 11714 values letters from A = 10 upward, i.e. by their place in the full Latin alphabet.
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, division: str) -> str:
    """A code for a company (9 1 …) registered in ``division``, in the post-2015 "MA" style."""
    body = "MA1" + "".join(rng.choice(ALPHABET) for _ in range(5))
    first17 = "91" + division + body + _organisation_check(body)
    return first17 + _check_character(first17)


def is_valid_credit_code(code: str) -> bool:
    return len(code) == 18 and all(c in _VALUE for c in code) and _check_character(code[:17]) == code[17]
