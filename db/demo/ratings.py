"""Star awards of the two batches, and the programme memberships of contact points.

Batch 2 is built from the published figures: 23 batch-1 four-star points upgraded to five
(each award pointing at the one it replaces), one new four-star point in the same district
for each upgrade, and the rest new points, so that 84 + 155 - 23 = 216 points are rated.
Every batch-2 point uses WeCom and online mediation, the batch's key criteria.
"""

from __future__ import annotations

import random
from datetime import date

from ..records import ContactPoint, Membership, StarAward
from . import plan
from .draw import day_between

__all__ = ["COMMERCIAL", "batch2_memberships", "other_point_memberships", "star_awards"]

COMMERCIAL = ("market_mall", "shop", "enterprise", "scenic_area")
_BATCH1_COMMERCIAL = 59  # of 84
_BATCH2_NEW_COMMERCIAL = 75  # of the 107 new points drawn after the named and paired ones
_WILD_ANIMAL_PARK, _BINGFEN_CITY = "上海野生动物园消费维权联络点", "徐汇绿地缤纷城消费维权联络点"


def _draw(
    rng: random.Random, pool: list[ContactPoint], taken: set[int], commercial: int, rest: int
) -> list[ContactPoint]:
    free = [p for p in pool if p.id not in taken]
    chosen = rng.sample([p for p in free if p.host_kind in COMMERCIAL], commercial)
    chosen += rng.sample([p for p in free if p.host_kind not in COMMERCIAL], rest)
    rng.shuffle(chosen)
    taken.update(p.id for p in chosen)
    return chosen


def star_awards(rng: random.Random, points: list[ContactPoint]) -> tuple[list[StarAward], list[ContactPoint]]:
    """The awards and the batch-2 points (whose WeCom flags are now set)."""
    shanghai = [p for p in points if p.district_code in plan.POINTS]
    by_name = {p.name: p for p in points if p.name_en}
    taken = {by_name[_WILD_ANIMAL_PARK].id, by_name[_BINGFEN_CITY].id}

    pool1 = [p for p in shanghai if p.established_on <= date(2018, 6, 30)]
    batch1 = _draw(rng, pool1, taken, _BATCH1_COMMERCIAL, plan.BATCH1_FIVE + plan.BATCH1_FOUR - _BATCH1_COMMERCIAL)
    awards = [
        StarAward(i, p.id, 1, 5 if i <= plan.BATCH1_FIVE else 4, plan.BATCH_ON[1], None)
        for i, p in enumerate(batch1, 1)
    ]
    award_of = {a.contact_point_id: a for a in awards}

    four = [p for p in batch1 if award_of[p.id].stars == 4]
    upgraded = rng.sample(four, plan.UPGRADES)
    pool2 = [p for p in shanghai if p.established_on <= date(2020, 6, 30)]
    paired = []
    for point in upgraded:  # "for each upgrade one new four-star candidate was added"
        same = [
            p
            for p in pool2
            if p.district_code == point.district_code and p.id not in taken and p.host_kind in COMMERCIAL
        ]
        paired.append(rng.choice(same))
        taken.add(paired[-1].id)
    new_five_count = plan.BATCH2_FIVE - plan.UPGRADES - 1
    new_four_count = plan.BATCH2_FOUR - plan.UPGRADES - 1
    new = _draw(rng, pool2, taken, _BATCH2_NEW_COMMERCIAL, new_five_count + new_four_count - _BATCH2_NEW_COMMERCIAL)
    five = [by_name[_WILD_ANIMAL_PARK], *new[:new_five_count]]
    four2 = [by_name[_BINGFEN_CITY], *paired, *new[new_five_count:]]

    on = plan.BATCH_ON[2]
    for point in upgraded:
        awards.append(StarAward(len(awards) + 1, point.id, 2, 5, on, award_of[point.id].id))
    for point in five:
        awards.append(StarAward(len(awards) + 1, point.id, 2, 5, on, None))
    for point in four2:
        awards.append(StarAward(len(awards) + 1, point.id, 2, 4, on, None))

    batch2 = sorted([*upgraded, *five, *four2], key=lambda p: p.id)
    for point in batch2:
        points[point.id - 1] = point._replace(uses_wecom=True, has_online_mediation=True)
    return awards, [points[p.id - 1] for p in batch2]


_FIRST_ON = {
    "reassured_consumption": date(2017, 3, 15),
    "offline_no_reason_return": plan.OFFLINE_RETURNS_ON,
    "odr": date(2018, 1, 1),
    "yrd_cross_store_return": plan.YRD_LAUNCH_ON,
    "pre_compensation": date(2016, 3, 15),
}


def _membership(
    rng: random.Random, programme: str, point: ContactPoint, until: date, level: str | None = None
) -> Membership:
    first = max(point.established_on, _FIRST_ON[programme])
    started = day_between(rng, first, max(first, until))
    days = 7 if programme in ("offline_no_reason_return", "yrd_cross_store_return") else None
    if programme == "reassured_consumption" and level is None:
        level = rng.choices(("excellent", "compliant", "committed"), (2, 5, 3))[0]
    return Membership(0, programme, point.id, None, level, None, days, started, None)


def batch2_memberships(rng: random.Random, batch2: list[ContactPoint]) -> list[Membership]:
    """The published programme counts among the 155, all current on the announcement day."""
    until = date(2020, 9, 15)
    rows = []
    commercial = [p for p in batch2 if p.host_kind in COMMERCIAL]
    rng.shuffle(commercial)
    at = 0
    for level, count in plan.BATCH2_REASSURED.items():
        rows += [_membership(rng, "reassured_consumption", p, until, level) for p in commercial[at : at + count]]
        at += count
    shops = [p for p in batch2 if p.host_kind in ("market_mall", "shop", "enterprise")]
    malls = [p for p in batch2 if p.host_kind == "market_mall"]
    for programme, count in plan.BATCH2_PROGRAMMES.items():
        candidates = malls if programme == "yrd_cross_store_return" else shops
        rows += [_membership(rng, programme, p, until) for p in rng.sample(candidates, count)]
    rows += [_membership(rng, "pre_compensation", p, until) for p in rng.sample(malls, plan.BATCH2_PRE_COMPENSATION)]
    return rows


def other_point_memberships(
    rng: random.Random, points: list[ContactPoint], batch2: list[ContactPoint]
) -> list[Membership]:
    """Memberships of points outside batch 2, so counts "among the 155" have something to exclude.
    About one in ten has ended."""
    rated = {p.id for p in batch2}
    pool = [p for p in points if p.host_kind in COMMERCIAL and p.id not in rated and p.district_code in plan.POINTS]
    rows = []
    for programme, count in plan.OTHER_POINT_MEMBERSHIPS.items():
        for point in rng.sample(pool, count):
            membership = _membership(rng, programme, point, date(2020, 9, 27))
            if rng.random() < 0.1:
                membership = membership._replace(ended_on=day_between(rng, membership.started_on, date(2020, 9, 27)))
            rows.append(membership)
    return rows
