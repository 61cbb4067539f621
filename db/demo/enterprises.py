"""Enterprises, their brands and stores, and the programmes they join: the 82 Yangtze Delta
cross-store-return members (67 at the launch), Jinshan's ODR enterprises classed A/B/C,
other ODR, reassured-consumption, no-reason-return and pre-compensation enterprises.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from ..records import Brand, Enterprise, Membership, Store
from . import plan
from .credit_code import credit_code
from .draw import day_between, split
from .names import DISTRICTS, STREETS, address, brand_name, enterprise_name, short_place

__all__ = ["Enterprises", "YrdMember", "enterprises"]

_SHANGHAI = list(plan.POINTS)
_SHANGHAI_WEIGHTS = [sum(plan.POINTS[d]) for d in _SHANGHAI]
_CHAIN_INDUSTRIES = ("百货", "超市", "家居", "电器", "服饰", "珠宝", "眼镜", "母婴用品", "体育用品", "化妆品", "钟表")
_LEVELS = ("excellent", "compliant", "committed")

# (name, name_en, district, brand, brand_en)
_NAMED = (
    ("红星美凯龙家居集团股份有限公司", "Red Star Macalline Group", plan.PUDONG, "红星美凯龙", "Red Star Macalline"),
    ("上海野生动物园发展有限责任公司", "Shanghai Wild Animal Park Development Co., Ltd.", plan.PUDONG, None, None),
    (
        "上海国际主题乐园有限公司",
        "Shanghai International Theme Park Co., Ltd. (Shanghai Disney Resort)",
        plan.PUDONG,
        "上海迪士尼度假区",
        "Shanghai Disney Resort",
    ),
    (
        "上海跨境通国际贸易有限公司",
        "Kuajingtong cross-border e-commerce platform",
        plan.PUDONG,
        "跨境通",
        "Kuajingtong",
    ),
)
_RED_STAR_STORES = (
    ("红星美凯龙金桥店", "Red Star Macalline Jinqiao store", plan.PUDONG),
    ("红星美凯龙真北店", None, "310107"),
    ("红星美凯龙浦江店", None, "310112"),
    ("红星美凯龙南京卡子门店", None, "320100"),
    ("红星美凯龙无锡滨湖店", None, "320200"),
    ("红星美凯龙苏州园区店", None, "320500"),
    ("红星美凯龙杭州古墩店", None, "330100"),
    ("红星美凯龙宁波鄞州店", None, "330200"),
    ("红星美凯龙合肥包河店", None, "340100"),
)


@dataclass(frozen=True)
class YrdMember:
    enterprise_id: int
    started_on: date
    committed_days: int
    store_ids: tuple[int, ...]


@dataclass
class Enterprises:
    enterprises: list[Enterprise] = field(default_factory=list)
    brands: list[Brand] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    yrd: list[YrdMember] = field(default_factory=list)
    jinshan_odr: dict[str, list[int]] = field(default_factory=dict)
    odr: list[int] = field(default_factory=list)
    # who a case may name as respondent, per district: every enterprise but Jinshan's classed ODR ones
    respondents: dict[str, list[int]] = field(default_factory=dict)
    _store_numbers: dict[str, int] = field(default_factory=dict)
    _credit_codes: set[str] = field(default_factory=set)

    def add_enterprise(self, rng: random.Random, name: str, district: str, name_en: str | None = None) -> int:
        code = credit_code(rng, district)
        while code in self._credit_codes:
            code = credit_code(rng, district)
        self._credit_codes.add(code)
        self.enterprises.append(Enterprise(len(self.enterprises) + 1, code, name, name_en, district))
        return len(self.enterprises)

    def add_brand(self, enterprise_id: int, name: str, name_en: str | None = None) -> int:
        self.brands.append(Brand(len(self.brands) + 1, enterprise_id, name, name_en))
        return len(self.brands)

    def add_store(
        self,
        rng: random.Random,
        enterprise_id: int,
        brand_id: int | None,
        label: str,
        district: str,
        name: str | None = None,
        name_en: str | None = None,
    ) -> int:
        self._store_numbers[district] = number = self._store_numbers.get(district, 0) + 1
        name = name or f"{label}{short_place(rng.choice(STREETS[district]))}店"
        self.stores.append(
            Store(
                len(self.stores) + 1,
                f"ST{district}-{number:05d}",
                enterprise_id,
                brand_id,
                name,
                name_en,
                district,
                address(rng, district),
            )
        )
        return len(self.stores)

    def join(
        self,
        programme: str,
        enterprise_id: int,
        started: date,
        *,
        level: str | None = None,
        odr_class: str | None = None,
        days: int | None = None,
    ) -> None:
        self.memberships.append(Membership(0, programme, None, enterprise_id, level, odr_class, days, started, None))


def _city_prefix(district: str) -> str:
    return "上海" if district in plan.POINTS else DISTRICTS[district][0].removesuffix("市")


def _yrd_start_dates(rng: random.Random) -> list[date]:
    """67 on the launch day; 15 joined later, the last on the alliance day."""
    later = sorted(
        day_between(rng, date(2020, 6, 1), plan.YRD_ALLIANCE_ON)
        for _ in range(plan.YRD_ENTERPRISES - plan.YRD_AT_LAUNCH - 1)
    )
    return [plan.YRD_LAUNCH_ON] * plan.YRD_AT_LAUNCH + later + [plan.YRD_ALLIANCE_ON]


def _chain_stores(
    rng: random.Random, out: Enterprises, enterprise_id: int, home: str, brands: list[tuple[int, str]]
) -> list[int]:
    """5–16 stores: the first at home, the second in another region, the rest anywhere."""
    elsewhere = [c for c in (*_SHANGHAI, *plan.PARTNER_CITIES) if c[:2] != home[:2]]
    districts = [home, rng.choice(elsewhere)]
    for _ in range(rng.randint(3, 14)):
        in_shanghai = rng.random() < 0.55
        districts.append(
            rng.choices(_SHANGHAI, _SHANGHAI_WEIGHTS)[0] if in_shanghai else rng.choice(plan.PARTNER_CITIES)
        )
    ids = []
    for district in districts:
        brand_id, label = rng.choice(brands)
        ids.append(out.add_store(rng, enterprise_id, brand_id, label, district))
    return ids


def _new_brands(rng: random.Random, out: Enterprises, enterprise_id: int, at_least: int) -> list[tuple[int, str]]:
    names = dict.fromkeys(brand_name(rng) for _ in range(rng.randint(at_least, 2)))
    return [(out.add_brand(enterprise_id, name), name) for name in names]


def _named(rng: random.Random, out: Enterprises) -> tuple[int, ...]:
    """The source articles' companies: Red Star Macalline with its stores, the Wild Animal
    Park, Disney's operator and 跨境通."""
    ids = tuple(out.add_enterprise(rng, name, district, name_en) for name, name_en, district, _, _ in _NAMED)
    brand_of = {eid: out.add_brand(eid, b, b_en) for eid, (*_, b, b_en) in zip(ids, _NAMED, strict=True) if b}
    red_star, wild_park, disney, kuajingtong = ids
    for name, name_en, district in _RED_STAR_STORES:
        out.add_store(rng, red_star, brand_of[red_star], "", district, name, name_en)
    out.add_store(
        rng, disney, brand_of[disney], "", plan.PUDONG, "上海迪士尼度假区零售商店", "Shanghai Disney Resort store"
    )
    out.join("reassured_consumption", wild_park, date(2018, 3, 15), level="excellent")
    out.join("reassured_consumption", disney, date(2018, 3, 15), level="excellent")
    out.join("odr", kuajingtong, date(2018, 6, 1))
    out.odr.append(kuajingtong)
    return ids


def _yrd_chains(rng: random.Random, out: Enterprises, red_star: int) -> None:
    """Red Star Macalline and 81 more chains; 60 registered in Shanghai, 22 in partner cities."""
    in_shanghai = plan.YRD_ENTERPRISES - plan.YRD_PARTNER_BASED - 1
    homes = [
        *rng.choices(_SHANGHAI, _SHANGHAI_WEIGHTS, k=in_shanghai),
        *rng.choices(plan.PARTNER_CITIES, k=plan.YRD_PARTNER_BASED),
    ]
    starts = _yrd_start_dates(rng)
    red_star_stores = [s.id for s in out.stores if s.enterprise_id == red_star]
    chains = [(red_star, red_star_stores)]
    for home in homes:
        eid = out.add_enterprise(rng, enterprise_name(rng, _city_prefix(home), rng.choice(_CHAIN_INDUSTRIES)), home)
        chains.append((eid, _chain_stores(rng, out, eid, home, _new_brands(rng, out, eid, 1))))
    for (eid, stores), started in zip(chains, starts, strict=True):
        days = rng.choices((7, 15, 30), (5, 3, 2))[0]
        out.join("yrd_cross_store_return", eid, started, days=days)
        out.yrd.append(YrdMember(eid, started, days, tuple(stores)))


def _jinshan_odr(rng: random.Random, out: Enterprises) -> None:
    """Jinshan's e-commerce ODR enterprises, classed by size."""
    for odr_class, count in plan.JINSHAN_ODR.items():
        for _ in range(count):
            eid = out.add_enterprise(rng, enterprise_name(rng, "上海", "电子商务"), plan.JINSHAN)
            out.join("odr", eid, day_between(rng, date(2019, 1, 1), date(2019, 12, 31)), odr_class=odr_class)
            out.jinshan_odr.setdefault(odr_class, []).append(eid)


def _local(rng: random.Random, out: Enterprises) -> list[int]:
    """Local businesses with up to four stores, most in their own district."""
    local = []
    for district, count in split(plan.OTHER_ENTERPRISES, dict(zip(_SHANGHAI, _SHANGHAI_WEIGHTS, strict=True))).items():
        for _ in range(count):
            eid = out.add_enterprise(rng, enterprise_name(rng, "上海"), district)
            local.append(eid)
            brands = _new_brands(rng, out, eid, 0)
            for _ in range(rng.choices((0, 1, 2, 3, 4), (1, 4, 3, 2, 1))[0]):
                brand_id, label = rng.choice(brands) if brands else (None, out.enterprises[eid - 1].name[2:4])
                out.add_store(rng, eid, brand_id, label, district if rng.random() < 0.8 else rng.choice(_SHANGHAI))
    return local


def _programmes(rng: random.Random, out: Enterprises, local: list[int], exclude: set[int]) -> None:
    """ODR outside Jinshan (unclassed), reassured consumption, no-reason returns, pre-compensation."""
    outside_jinshan = [e for e in local if out.enterprises[e - 1].district_code != plan.JINSHAN]
    for eid in rng.sample(outside_jinshan, plan.OTHER_ODR_ENTERPRISES - len(out.odr)):
        out.join("odr", eid, day_between(rng, date(2018, 1, 1), date(2020, 6, 30)))
        out.odr.append(eid)
    members = [e.id for e in out.enterprises if e.id not in exclude]
    for programme, count in plan.ENTERPRISE_MEMBERSHIPS.items():
        returns = programme == "offline_no_reason_return"
        for eid in rng.sample(members, count):
            started = day_between(rng, plan.OFFLINE_RETURNS_ON if returns else date(2016, 3, 15), date(2020, 9, 15))
            level = rng.choices(_LEVELS, (2, 5, 3))[0] if programme == "reassured_consumption" else None
            out.join(programme, eid, started, level=level, days=rng.choices((7, 15), (4, 1))[0] if returns else None)


def enterprises(rng: random.Random) -> Enterprises:
    out = Enterprises()
    red_star, wild_park, disney, _ = _named(rng, out)
    _yrd_chains(rng, out, red_star)
    _jinshan_odr(rng, out)
    classed = {eid for ids in out.jinshan_odr.values() for eid in ids}
    _programmes(rng, out, _local(rng, out), classed | {wild_park, disney})
    for e in out.enterprises:
        if e.id not in classed:
            out.respondents.setdefault(e.district_code, []).append(e.id)
    return out
