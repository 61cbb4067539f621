"""Yangtze Delta cross-store returns: bought in one store of a member enterprise, returned or
exchanged in another of its stores, mostly in another region, within its committed days.
"""

from __future__ import annotations

import random
from datetime import timedelta

from ..records import CrossStoreReturn, Store
from . import plan
from .draw import day_between, money
from .enterprises import YrdMember

__all__ = ["cross_store_returns"]


def _return_store(rng: random.Random, purchase: Store, others: list[Store]) -> Store:
    """Three in four in another region, most of the rest in another city or district."""
    elsewhere = [s for s in others if s.district_code[:2] != purchase.district_code[:2]]
    nearby = [
        s
        for s in others
        if s.district_code[:2] == purchase.district_code[:2] and s.district_code != purchase.district_code
    ]
    draw = rng.random()
    if elsewhere and (draw < 0.75 or not nearby):
        return rng.choice(elsewhere)
    if nearby and draw < 0.95:
        return rng.choice(nearby)
    return rng.choice(others)


def cross_store_returns(
    rng: random.Random,
    members: list[YrdMember],
    stores: dict[int, Store],
    count: int = plan.CROSS_STORE_RETURNS,
    *,
    first_id: int = 1,
    numbers: dict[int, int] | None = None,
    first_number: int = 1,
) -> list[CrossStoreReturn]:
    """``numbers`` (the last code number used per year, updated here), ``first_number`` and
    ``first_id`` let later volume follow the demo without colliding."""
    weights = [len(m.store_ids) for m in members]
    drafts = []
    for member in rng.choices(members, weights, k=count):
        own = [stores[i] for i in member.store_ids]
        purchase = rng.choice(own)
        back = _return_store(rng, purchase, [s for s in own if s.id != purchase.id])
        bought = day_between(rng, member.started_on, plan.YRD_ALLIANCE_ON, skew=0.8)
        returned = min(bought + timedelta(days=rng.randint(0, member.committed_days)), plan.YRD_ALLIANCE_ON)
        kind = "return" if rng.random() < 0.55 else "exchange"
        amount = money(min(rng.lognormvariate(6.2, 0.9), 60000))
        drafts.append((returned, bought, member.enterprise_id, purchase.id, back.id, kind, amount))
    drafts.sort(key=lambda d: (d[0], d[1]))
    rows: list[CrossStoreReturn] = []
    numbers = {} if numbers is None else numbers
    for returned, bought, enterprise_id, purchase_id, return_id, kind, amount in drafts:
        numbers[returned.year] = number = numbers.get(returned.year, first_number - 1) + 1
        rows.append(
            CrossStoreReturn(
                first_id + len(rows),
                f"YRD-{returned.year}-{number:06d}",
                enterprise_id,
                purchase_id,
                return_id,
                kind,
                bought,
                returned,
                amount,
            )
        )
    return rows
