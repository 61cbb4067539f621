"""Regions (province level) and districts (Shanghai's districts, partners' cities)."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers import network


@strawberry.enum(description="What kind of division a district is.")
class DistrictKind(Enum):
    DISTRICT = strawberry.enum_value("district", description="A district (区) of a municipality, e.g. 浦东新区.")
    CITY = strawberry.enum_value("city", description="A prefecture-level city (地级市) of a province, e.g. 苏州市.")


@strawberry.type(description="A district of Shanghai, or a prefecture-level city of a partner province.")
class District:
    code: str = strawberry.field(description="Administrative division code (GB/T 2260), e.g. `310115`.")
    name: str = strawberry.field(description="Chinese name, e.g. 浦东新区.")
    name_en: str | None = strawberry.field(description="English name, where one is in use, e.g. Pudong.")
    kind: DistrictKind = strawberry.field(description="District of a municipality or city of a province.")


@strawberry.type(description="A province-level region: Shanghai, or a Yangtze Delta partner province.")
class Region:
    code: str = strawberry.field(description="Administrative division code (GB/T 2260), e.g. `310000`.")
    name: str = strawberry.field(description="Chinese name, e.g. 上海市.")
    name_en: str | None = strawberry.field(description="English name, e.g. Shanghai.")
    is_partner: bool = strawberry.field(
        description="True for the partner provinces (Jiangsu, Zhejiang, Anhui) whose services federate with this one."
    )
    districts: list[District] = strawberry.field(
        resolver=network.region_districts, description="Its districts or cities, by code."
    )
