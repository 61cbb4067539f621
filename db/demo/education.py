"""Education activities (消费教育) at contact points: trainings, leaflets, 3·15 campaigns.

Pudong's activities in its window add up exactly to the chosen totals of ``plan``
(above the article's "8万余人次" and "10余万份"); the rest are spread over the other
districts and Pudong's later days. Drawn from a random stream of their own, so adding
them left every other table of the demo as it was.
"""

from __future__ import annotations

import bisect
import random
from datetime import date

from ..records import ContactPoint, EducationActivity
from . import plan
from .draw import day_between, pick

__all__ = ["education_activities"]

TITLES = {
    "training": ("消费维权知识培训", "普法讲座：《消费者权益保护法》", "预付式消费风险提示讲座", "联络员调解业务培训"),
    "leaflets": ("发放消费维权宣传资料", "发放消费提示", "发放《上海市消费者权益保护条例》宣传册"),
    "campaign_315": ("3·15国际消费者权益日宣传活动",),
    "other": ("消费体验活动", "消费维权咨询日", "家校联动消费教育活动"),
}
_LAST_DAY = plan.CASES_AS_OF.date()
_AFTER_KINDS = ("training", "training", "leaflets", "leaflets", "other")


def apportion(rng: random.Random, total: int, count: int) -> list[int]:
    """``count`` positive parts of about equal size (±70 %) that add up to ``total``."""
    raw = [0.3 + 1.4 * rng.random() for _ in range(count)]
    scaled = [total * r / sum(raw) for r in raw]
    parts = [max(1, int(s)) for s in scaled]
    order = sorted(range(count), key=lambda i: parts[i] - scaled[i])
    at = 0
    while sum(parts) != total:
        i = order[at % count]
        step = 1 if sum(parts) < total else -1
        if parts[i] + step >= 1:
            parts[i] += step
        at += 1
    return parts


class _Drawer:
    """Rows with ids in order, one per point, day and kind (the table's natural key)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[EducationActivity] = []
        self.taken: set[tuple[int, date, str]] = set()

    def add(self, points: list[ContactPoint], first: date, last: date, kind: str, attendance: int, copies: int) -> None:
        """One activity at a point set up by then, on a day in [first, last]."""
        set_up = [p.established_on for p in points]
        while True:
            day = date(first.year, 3, 15) if kind == "campaign_315" else day_between(self.rng, first, last)
            ready = bisect.bisect_right(set_up, day)
            if ready == 0:
                continue
            point = points[int(self.rng.random() * ready)]
            if (point.id, day, kind) not in self.taken:
                break
        self.taken.add((point.id, day, kind))
        title = pick(self.rng, TITLES[kind])
        if kind == "campaign_315":
            title = f"{day.year}年{title}"
        self.rows.append(EducationActivity(len(self.rows) + 1, point.id, day, kind, attendance, copies, title))


def education_activities(seed: int, points: list[ContactPoint]) -> list[EducationActivity]:
    rng = random.Random(seed + plan.EDUCATION_SEED_OFFSET)  # noqa: S311 - reproducible synthetic data
    by_setup = sorted(points, key=lambda p: (p.established_on, p.id))
    pudong = [p for p in by_setup if p.district_code == plan.PUDONG]
    others = [p for p in by_setup if p.district_code != plan.PUDONG and p.district_code in plan.POINTS]
    drawer = _Drawer(rng)
    first, last = plan.PUDONG_WINDOW
    for kind, (count, attendance, copies) in plan.PUDONG_EDUCATION.items():
        people = apportion(rng, attendance, count) if attendance else [0] * count
        handed = apportion(rng, copies, count) if copies else [0] * count
        years = range(first.year, last.year + 1)
        for n, (a, c) in enumerate(zip(people, handed, strict=True)):
            day = date(years[n % len(years)], 1, 1) if kind == "campaign_315" else first
            drawer.add(pudong, day, last, kind, a, c)
    for where, count, start in (
        (pudong, plan.PUDONG_EDUCATION_AFTER, date(2019, 7, 6)),
        (others, plan.OTHER_DISTRICT_EDUCATION, first),
    ):
        for _ in range(count):
            kind = pick(rng, _AFTER_KINDS)
            attendance = int(10 + 60 * rng.random()) if kind in ("training", "other") else 0
            copies = int(20 + 120 * rng.random()) if kind == "leaflets" else 0
            drawer.add(where, start, _LAST_DAY, kind, attendance, copies)
    return drawer.rows
