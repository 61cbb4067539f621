"""Contact points (8,862 in Shanghai's 16 districts, a few in partner cities) and their
honours. The named points of the source articles take the first codes of their district.
"""

from __future__ import annotations

import random
from datetime import date

from ..records import ContactPoint, Street
from . import plan
from .draw import day_between, split
from .names import STREETS, address, point_name

__all__ = ["HONOUR_COLUMNS", "NAMED_POINTS", "HonourRow", "contact_points", "grassroots_honours", "honours"]

HonourRow = tuple[int, str, date]
"""A contact_point_honour row as written: the tier is the database's (migration 0017)."""
HONOUR_COLUMNS = ("contact_point_id", "honour", "awarded_on")

# district -> (name, name_en, host_kind, street_town, address or None, established_on)
NAMED_POINTS: dict[str, list[tuple[str, str, str, str, str | None, date]]] = {
    plan.PUDONG: [
        (
            "上海野生动物园消费维权联络点",
            "Shanghai Wild Animal Park contact point",
            "scenic_area",
            "航头镇",
            "上海市浦东新区南六公路178号",
            date(2016, 3, 15),
        ),
        (
            "上海迪士尼度假区消费维权联络点",
            "Shanghai Disney Resort contact point",
            "scenic_area",
            "川沙新镇",
            "上海市浦东新区川沙新镇黄赵路310号",
            date(2016, 6, 16),
        ),
        (
            "红星美凯龙金桥店消费维权联络点",
            "Red Star Macalline Jinqiao store contact point",
            "market_mall",
            "金桥镇",
            None,
            date(2015, 3, 15),
        ),
        ("金苹果学校消费维权联络点", "Golden Apple School contact point", "school", "花木街道", None, date(2017, 9, 1)),
        (
            "跨境通消费维权联络点",
            "Kuajingtong cross-border e-commerce platform contact point",
            "enterprise",
            "高桥镇",
            None,
            date(2018, 3, 15),
        ),
    ],
    "310104": [
        (
            "徐汇绿地缤纷城消费维权联络点",
            "Xuhui Greenland Bingfen City contact point",
            "market_mall",
            "龙华街道",
            "上海市徐汇区龙华中路600号",
            date(2017, 3, 15),
        ),
    ],
}

_LAST_ESTABLISHED = {"residential_committee": date(2017, 12, 31)}
_DEFAULT_LAST_ESTABLISHED = date(2020, 8, 31)


def _host_kinds(district: str) -> list[str]:
    residential, five_into, others = plan.POINTS[district]
    if district == plan.PUDONG:
        parts = {**plan.PUDONG_FIVE_INTO, **plan.PUDONG_OTHERS}
    else:
        parts = {**split(five_into, plan.FIVE_INTO_SHARE), **split(others, plan.OTHERS_SHARE)}
    return ["residential_committee"] * residential + [k for k, n in parts.items() for _ in range(n)]


def _wecom(rng: random.Random, host_kind: str) -> tuple[bool, bool]:
    uses = rng.random() < (0.15 if host_kind == "residential_committee" else 0.4)
    return uses, uses and rng.random() < 0.75


def contact_points(rng: random.Random) -> tuple[list[ContactPoint], list[Street]]:
    """The points, and the streets and towns they sit in (ids in order of first use)."""
    points: list[ContactPoint] = []
    numbers: dict[str, int] = {}
    street_ids: dict[tuple[str, str], int] = {}

    def add(
        district: str,
        kind: str,
        name: str,
        name_en: str | None,
        street: str,
        where: str | None,
        established: date,
        wecom: tuple[bool, bool],
    ) -> None:
        numbers[district] = numbers.get(district, 0) + 1
        code = f"CP{district}-{numbers[district]:05d}"
        street_id = street_ids.setdefault((district, street), len(street_ids) + 1)
        points.append(
            ContactPoint(
                len(points) + 1,
                code,
                name,
                name_en,
                district,
                kind,
                where or address(rng, district),
                established,
                *wecom,
                street_id,
            )
        )

    for district in plan.POINTS:
        kinds = _host_kinds(district)
        for name, name_en, kind, street, where, established in NAMED_POINTS.get(district, []):
            kinds.remove(kind)
            add(district, kind, name, name_en, street, where, established, (True, True))
        rng.shuffle(kinds)
        for kind in kinds:
            street = rng.choice(STREETS[district])
            last = _LAST_ESTABLISHED.get(kind, _DEFAULT_LAST_ESTABLISHED)
            add(
                district,
                kind,
                point_name(rng, kind, street),
                None,
                street,
                None,
                day_between(rng, plan.FIRST_POINT_ON, last, skew=1.3),
                _wecom(rng, kind),
            )
    for city in plan.PARTNER_CITIES:
        for _ in range(plan.PARTNER_POINTS_PER_CITY):
            street = rng.choice(STREETS[city])
            add(
                city,
                "market_mall",
                point_name(rng, "market_mall", street),
                None,
                street,
                None,
                day_between(rng, plan.YRD_LAUNCH_ON, date(2020, 7, 31)),
                (True, False),
            )
    return points, [Street(i, district, name) for (district, name), i in street_ids.items()]


def honours(rng: random.Random, points: list[ContactPoint]) -> list[HonourRow]:
    """Awarded on 15 March (consumer rights day) of 2015–2019, after the point was set up."""
    rows: list[HonourRow] = []

    def award(candidates: list[ContactPoint], count: int, honour: str) -> None:
        for point in rng.sample(candidates, count):
            year = rng.randint(max(2015, point.established_on.year + 1), 2019)
            rows.append((point.id, honour, date(year, 3, 15)))

    for district, count in plan.DEMONSTRATION.items():
        eligible = [p for p in points if p.district_code == district and p.established_on.year <= 2018]
        award(eligible, count, "municipal_demonstration")
    pudong = [p for p in points if p.district_code == plan.PUDONG and p.established_on.year <= 2018]
    award(pudong, plan.PUDONG_HUNDRED_BEST, "pudong_hundred_best")
    return rows


def grassroots_honours(seed: int, points: list[ContactPoint], higher: list[HonourRow]) -> list[HonourRow]:
    """Pudong's grass-roots excellent points (基层优秀联络点): a few per street or town among the
    points set up by 2018 without a higher honour, named on 15 March of 2017–2019. Drawn
    from a random stream of their own, so the rest of the demo stays as it was."""
    rng = random.Random(seed + plan.GRASSROOTS_SEED_OFFSET)  # noqa: S311 - reproducible synthetic data
    honoured = {point_id for point_id, _, _ in higher}
    by_street: dict[int, list[ContactPoint]] = {}
    for p in points:
        if p.district_code == plan.PUDONG and p.id not in honoured and p.established_on.year <= 2018:
            by_street.setdefault(p.street_id, []).append(p)
    rows: list[HonourRow] = []
    for _, candidates in sorted(by_street.items()):
        for point in rng.sample(candidates, min(plan.GRASSROOTS_EXCELLENT_PER_STREET, len(candidates))):
            year = rng.randint(max(2017, point.established_on.year + 1), 2019)
            rows.append((point.id, "grassroots_excellent", date(year, 3, 15)))
    return rows
