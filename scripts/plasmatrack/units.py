"""Units shared by every stage: the one days-per-month factor and the one round axis step.

Clinical times arrive in months (TTF, OS in the clinical sheet) and draws in days; every stage
converts with the same factor (a Julian year / 12), so a patient's draw and their TTF line up
on every plot and in every landmark analysis.
"""

from __future__ import annotations

import math

DAYS_PER_MONTH = 30.4375


def nice_step(raw: float) -> float:
    """The smallest round step (1, 2, 2.5 or 5 x 10^k) at or above ``raw``; 1.0 when raw <= 0."""
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if mult * mag >= raw:
            return mult * mag
    return 10 * mag
