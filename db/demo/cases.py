"""Cases at contact points, drafted quota by quota so each published figure holds exactly,
then numbered in the order they were opened (C<district>-<year>-<6 digits>).

Quotas, all taken at CASES_AS_OF: the 466 online mediations settled in 2020 (and the
unsettled ones beside them), Jinshan's ODR complaints per class, Pudong's cases since 2015
up to the article, and ordinary volumes elsewhere. Ordinary cases never fall into a quota's
slice: no online mediation in 2020, no complaint against a classed Jinshan ODR firm.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial

from ..records import Case, CaseEvent, ContactPoint
from ..stats import CATEGORIES
from . import plan
from .draw import Weighted, day_between, money, office_hours, pick, split
from .enterprises import Enterprises
from .lifecycle import TERMINAL, lifecycle
from .names import DISTRICTS, person_name, phone

__all__ = ["CaseDraft", "CaseWriter", "PointPicker", "demo_drafts", "ordinary_case"]

_HOST_WEIGHT = {
    "market_mall": 4.0,
    "shop": 3.0,
    "enterprise": 2.0,
    "scenic_area": 2.0,
    "residential_committee": 1.0,
    "other": 1.0,
    "school": 0.5,
    "barracks": 0.3,
}
_CATEGORY_WEIGHTS = {
    "complaint": (24, 22, 14, 14, 12, 14),
    "consultation": (15, 10, 15, 12, 8, 40),
    "illegal_conduct_lead": (0, 35, 20, 0, 0, 45),
}
_ITEMS = (
    "手机",
    "冰箱",
    "空调",
    "洗衣机",
    "电视机",
    "笔记本电脑",
    "羽绒服",
    "运动鞋",
    "家具",
    "热水器",
    "眼镜",
    "首饰",
    "食品",
    "化妆品",
)
_SUMMARY = {
    "after_sales_service": "所购{item}出现故障,商家未履行三包义务",
    "product_quality": "所购{item}存在质量问题,要求退换",
    "prepaid_consumption": "预付卡消费纠纷:{shop}停业或拒绝退还余额",
    "online_purchase_return": "网购{item}申请七日无理由退货被拒",
    "mall_after_sales": "在商场购买{item}后退换货受阻",
    "other": "对{item}价格或服务有异议",
}
_SHOPS = ("美容店", "美发店", "健身房", "教育培训机构", "洗衣店", "游泳馆")
_LEAD = ("反映{shop}涉嫌无照经营", "反映商家涉嫌虚假宣传", "反映超市涉嫌销售过期食品", "反映商家涉嫌价格欺诈")
# WeCom online mediation in ordinary cases: from mid-2018, and not in 2020 (the quotas' year)
_ONLINE_FROM, _ONLINE_UNTIL = date(2018, 7, 1), date(2020, 1, 1)


@dataclass(frozen=True, slots=True)
class CaseDraft:
    opened_at: datetime
    point: ContactPoint
    kind: str
    channel: str
    category: str
    status: str  # the target; cut at the snapshot unless the quota requires it reached
    respondent: int | None
    must_reach: bool = False


class PointPicker:
    """Draws contact points already established on a day, busier host kinds more often."""

    def __init__(self, points: list[ContactPoint]) -> None:
        self.points = sorted(points, key=lambda p: (p.established_on, p.id))
        self.days = [p.established_on for p in self.points]
        self.cumulative: list[float] = []
        total = 0.0
        for p in self.points:
            total += _HOST_WEIGHT[p.host_kind]
            self.cumulative.append(total)

    def pick(self, rng: random.Random, day: date) -> ContactPoint:
        k = bisect.bisect_right(self.days, day)
        if k == 0:
            raise ValueError(f"no contact point is established by {day}")
        return self.points[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[k - 1], 0, k - 1)]


def _channels(kind: str, odr: bool, online: bool) -> Weighted[str]:
    weights = {
        "complaint": {"on_site": 50, "platform_12315": 30, "odr": 6 * odr, "online_mediation": 14 * online},
        "consultation": {"on_site": 65, "platform_12315": 20, "online_mediation": 15 * online},
        "illegal_conduct_lead": {"on_site": 75, "platform_12315": 25},
    }[kind]
    return Weighted(weights)


_CHANNEL = {
    (k, odr, online): _channels(k, odr, online)
    for k in _CATEGORY_WEIGHTS
    for odr in (False, True)
    for online in (False, True)
}
_CATEGORY = {k: Weighted(dict(zip(CATEGORIES, w, strict=True))) for k, w in _CATEGORY_WEIGHTS.items()}
_COMPLAINT_OUTCOME = Weighted(dict(zip(TERMINAL, (70, 21, 9), strict=True)))


def ordinary_case(rng: random.Random, point: ContactPoint, day: date, kind: str, companies: Enterprises) -> CaseDraft:
    """Channel, category, outcome and respondent drawn as at any contact point."""
    channel = _CHANNEL[kind, day.year >= 2018, _ONLINE_FROM <= day < _ONLINE_UNTIL](rng)
    if kind == "complaint":
        status = _COMPLAINT_OUTCOME(rng)
    elif kind == "consultation":
        status = "settled" if rng.random() < 0.96 else "transferred"
    else:
        status = "transferred"
    respondent = None
    if channel == "odr":
        respondent = pick(rng, companies.odr)
    elif kind != "consultation" and rng.random() < (0.55 if kind == "complaint" else 0.3):
        local = companies.respondents.get(point.district_code)
        respondent = pick(rng, local) if local else None
    return CaseDraft(office_hours(rng, day), point, kind, channel, _CATEGORY[kind](rng), status, respondent)


@dataclass
class CaseWriter:
    """Turns drafts, in opening order, into rows: ids, numbers, amounts, consumers, events.

    Called chunk by chunk, it carries ids and numbers on, so a load can copy one chunk
    while the next is drawn.
    """

    as_of: datetime
    next_id: int = 1
    next_event_id: int = 1
    # the last number used per (district, year); a missing key starts after first_number - 1
    numbers: dict[tuple[str, int], int] = field(default_factory=dict)
    first_number: int = 1

    def write(self, rng: random.Random, drafts: list[CaseDraft]) -> tuple[list[Case], list[CaseEvent]]:
        cases, events = [], []
        for d in drafts:
            case_id = self.next_id
            self.next_id += 1
            bureau = DISTRICTS[d.point.district_code][0] + "市场监管局"
            steps = lifecycle(rng, d.opened_at, d.kind, d.channel, d.status, bureau, self.as_of)
            status, last_at = steps[-1][0], steps[-1][1]
            if d.must_reach and status != d.status:
                raise AssertionError(f"a quota case opened {d.opened_at} did not reach {d.status} by the snapshot")
            for step, at, actor, note in steps:
                events.append(CaseEvent(self.next_event_id, case_id, at, step, actor, note))
                self.next_event_id += 1
            key = (d.point.district_code, d.opened_at.year)
            self.numbers[key] = number = self.numbers.get(key, self.first_number - 1) + 1
            claimed, recovered = _amounts(rng, d.kind, d.category, status)
            name, mobile = _consumer(rng, d.kind)
            cases.append(
                Case(
                    case_id,
                    f"C{key[0]}-{key[1]}-{number:06d}",
                    d.kind,
                    d.channel,
                    d.category,
                    status,
                    d.point.id,
                    d.respondent,
                    claimed,
                    recovered,
                    d.opened_at,
                    last_at if status in TERMINAL else None,
                    _summary(rng, d.kind, d.category),
                    name,
                    mobile,
                )
            )
        return cases, events


def _amounts(rng: random.Random, kind: str, category: str, status: str) -> tuple[Decimal | None, Decimal | None]:
    if kind != "complaint":
        return None, None
    mu = 7.6 if category == "prepaid_consumption" else 6.0
    claimed = money(min(max(rng.lognormvariate(mu, 1.0), 10.0), 500000.0))
    if status == "settled":
        share = 1.0 if rng.random() < 0.5 else rng.uniform(0.3, 1.0)
        return claimed, money(float(claimed) * share).min(claimed)
    return claimed, (Decimal("0.00") if status == "not_settled" else None)


def _consumer(rng: random.Random, kind: str) -> tuple[str | None, str | None]:
    named = {"complaint": 0.95, "consultation": 0.3, "illegal_conduct_lead": 0.5}[kind]
    with_phone = {"complaint": 0.98, "consultation": 0.6, "illegal_conduct_lead": 0.5}[kind]
    return (person_name(rng) if rng.random() < named else None), (phone(rng) if rng.random() < with_phone else None)


def _summary(rng: random.Random, kind: str, category: str) -> str:
    item, shop = pick(rng, _ITEMS), pick(rng, _SHOPS)
    if kind == "illegal_conduct_lead":
        return pick(rng, _LEAD).format(shop=shop)
    text = _SUMMARY[category].format(item=item, shop=shop)
    return "咨询:" + text if kind == "consultation" else text


def _kinds(rng: random.Random, count: int) -> list[str]:
    return rng.choices(("consultation", "complaint", "illegal_conduct_lead"), (55, 40, 5), k=count)


@dataclass
class _Quotas:
    rng: random.Random
    drafts: list[CaseDraft] = field(default_factory=list)

    def add(
        self,
        picker: PointPicker,
        first: date,
        last: date,
        *,
        kind: str,
        channel: str,
        status: str,
        categories: tuple[str, ...],
        count: int,
        respondents: list[int] | None = None,
    ) -> None:
        """``count`` cases that must end at ``status`` by the snapshot."""
        rng = self.rng
        for _ in range(count):
            day = day_between(rng, first, last, skew=0.8)
            self.drafts.append(
                CaseDraft(
                    office_hours(rng, day),
                    picker.pick(rng, day),
                    kind,
                    channel,
                    rng.choice(categories),
                    status,
                    rng.choice(respondents) if respondents else None,
                    must_reach=True,
                )
            )

    def online_mediations(self, online: PointPicker) -> None:
        """2020's online mediations: 466 complaints settled, 233 of them after-sales or quality,
        opened by 8 September so that every one is closed by the snapshot; and the unsettled."""
        complaints = partial(
            self.add, online, date(2020, 1, 1), date(2020, 9, 8), kind="complaint", channel="online_mediation"
        )
        half = plan.ONLINE_SETTLED_2020_AFTER_SALES_OR_QUALITY
        complaints(status="settled", categories=CATEGORIES[:2], count=half)
        complaints(status="settled", categories=CATEGORIES[2:], count=plan.ONLINE_SETTLED_2020 - half)
        for status, count in plan.ONLINE_UNSETTLED_2020.items():
            if status != "open":
                complaints(status=status, categories=CATEGORIES, count=count)
                continue
            for _ in range(count):
                day = day_between(self.rng, date(2020, 9, 14), plan.CASES_AS_OF.date())
                reached = self.rng.choice(("received", "accepted", "mediating"))
                self.drafts.append(
                    CaseDraft(
                        office_hours(self.rng, day),
                        online.pick(self.rng, day),
                        "complaint",
                        "online_mediation",
                        self.rng.choice(CATEGORIES),
                        reached,
                        None,
                    )
                )

    def jinshan_odr(self, jinshan: PointPicker, companies: Enterprises) -> None:
        """Complaints against Jinshan's classed ODR enterprises; the unsettled mostly not settled."""
        for odr_class, (complaints, settled) in plan.JINSHAN_ODR_COMPLAINTS.items():
            rest = split(complaints - settled, {"not_settled": 0.8, "transferred": 0.2})
            for status, count in {"settled": settled, **rest}.items():
                self.add(
                    jinshan,
                    date(2020, 1, 1),
                    date(2020, 9, 8),
                    kind="complaint",
                    channel="odr",
                    status=status,
                    categories=CATEGORIES[:4],
                    respondents=companies.jinshan_odr[odr_class],
                    count=count,
                )

    def ordinary(self, picker: PointPicker, first: date, last: date, kinds: list[str], companies: Enterprises) -> None:
        for kind in kinds:
            day = day_between(self.rng, first, last, skew=0.8)
            self.drafts.append(ordinary_case(self.rng, picker.pick(self.rng, day), day, kind, companies))

    def partner_points(self, points: list[ContactPoint]) -> None:
        """Disputes over cross-store returns at partner cities' points, since they opened."""
        rng = self.rng
        for point in points:
            for _ in range(plan.PARTNER_CASES_PER_POINT):
                day = day_between(rng, point.established_on, plan.CASES_AS_OF.date())
                kind = "complaint" if rng.random() < 0.7 else "consultation"
                status = _COMPLAINT_OUTCOME(rng) if kind == "complaint" else "settled"
                self.drafts.append(
                    CaseDraft(
                        office_hours(rng, day),
                        point,
                        kind,
                        "on_site",
                        rng.choice(("mall_after_sales", "online_purchase_return")),
                        status,
                        None,
                    )
                )


def demo_drafts(rng: random.Random, points: list[ContactPoint], companies: Enterprises) -> list[CaseDraft]:
    """Every demo case's draft, in opening order."""
    by_district: dict[str, list[ContactPoint]] = {}
    for p in points:
        by_district.setdefault(p.district_code, []).append(p)
    quotas = _Quotas(rng)
    online = [p for p in points if p.has_online_mediation and p.district_code in plan.POINTS]
    quotas.online_mediations(PointPicker(online))
    quotas.jinshan_odr(
        PointPicker([p for p in by_district[plan.JINSHAN] if p.host_kind in ("enterprise", "market_mall", "shop")]),
        companies,
    )

    # Pudong: exact counts since 2015 up to the article; before and after, ordinary volumes.
    pudong = PointPicker(by_district[plan.PUDONG])
    window = (
        ["consultation"] * plan.PUDONG_CONSULTATIONS
        + ["complaint"] * plan.PUDONG_COMPLAINTS
        + ["illegal_conduct_lead"] * plan.PUDONG_LEADS
    )
    quotas.ordinary(pudong, *plan.PUDONG_WINDOW, window, companies)
    for first, last, count in (plan.PUDONG_BEFORE, plan.PUDONG_AFTER):
        quotas.ordinary(pudong, first, last, _kinds(rng, count), companies)
    shares = {d: sum(plan.POINTS[d]) for d in plan.POINTS if d != plan.PUDONG}
    for district, count in split(plan.OTHER_DISTRICT_CASES, shares).items():
        quotas.ordinary(
            PointPicker(by_district[district]),
            plan.OTHER_CASES_FROM,
            plan.CASES_AS_OF.date(),
            _kinds(rng, count),
            companies,
        )
    quotas.partner_points([p for city in plan.PARTNER_CITIES for p in by_district[city]])

    quotas.drafts.sort(key=lambda d: d.opened_at)
    return quotas.drafts
