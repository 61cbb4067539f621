"""The enumerations of the model. GraphQL names in English; the Chinese term in each description."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = [
    "FIVE_INTO",
    "CaseCategory",
    "CaseChannel",
    "CaseEventKind",
    "CaseKind",
    "CaseStatus",
    "CaseTransferTarget",
    "DistrictKind",
    "EducationKind",
    "HonourKind",
    "HostKind",
    "MembershipLevel",
    "OdrClass",
    "OrderDirection",
    "ProgrammeCode",
    "ReturnKind",
    "Stars",
    "stored",
]

v = strawberry.enum_value


def stored(member: Enum) -> str:
    """The text a member is stored as (mypy reads an ``enum_value`` member's ``value`` as its definition)."""
    return str(member.value)


@strawberry.enum(description="What kind of division a district is.")
class DistrictKind(Enum):
    DISTRICT = v("district", description="A district (区) of a municipality, e.g. 浦东新区.")
    CITY = v("city", description="A prefecture-level city (地级市) of a province, e.g. 苏州市.")


@strawberry.enum(description="Who hosts a contact point. The five-into (五进) kinds are marked so.")
class HostKind(Enum):
    RESIDENTIAL_COMMITTEE = v("residential_committee", description="A residential or village committee (村居委).")
    MARKET_MALL = v("market_mall", description="Five-into: a mall, supermarket or market (商场超市市场).")
    SCENIC_AREA = v("scenic_area", description="Five-into: a scenic area (景区).")
    SCHOOL = v("school", description="Five-into: a school (学校).")
    BARRACKS = v("barracks", description="Five-into: barracks (军营).")
    ENTERPRISE = v("enterprise", description="Five-into: an enterprise (企业).")
    SHOP = v("shop", description="A shop (商户).")
    OTHER = v("other", description="Any other host, e.g. an industry association.")


FIVE_INTO = frozenset(
    stored(kind)
    for kind in (HostKind.MARKET_MALL, HostKind.SCENIC_AREA, HostKind.SCHOOL, HostKind.BARRACKS, HostKind.ENTERPRISE)
)
"""The host kinds that make a point five-into (五进), as stored."""


@strawberry.enum(description="A star rating (星级) awarded by the city regulator.")
class Stars(Enum):
    FOUR = v(4, description="Four stars (四星).")
    FIVE = v(5, description="Five stars (五星).")


@strawberry.enum(
    description="An honour a contact point holds besides its stars: the three tiers that lead the rest (三级引领)."
)
class HonourKind(Enum):
    MUNICIPAL_DEMONSTRATION = v(
        "municipal_demonstration", description="Tier 1: municipal demonstration point (市级示范联络点)."
    )
    PUDONG_HUNDRED_BEST = v("pudong_hundred_best", description="Tier 2: Pudong hundred-best point (浦东百佳联络点).")
    GRASSROOTS_EXCELLENT = v(
        "grassroots_excellent",
        description="Tier 3: grass-roots excellent point (基层优秀联络点), named by a local market supervision office.",
    )


@strawberry.enum(description="What a consumer-education (消费教育) activity was.")
class EducationKind(Enum):
    TRAINING = v("training", description="A training or law lecture (培训/普法讲座), counted in attendances (人次).")
    LEAFLETS = v(
        "leaflets", description="Leaflets and other materials handed out (发放宣传材料), counted in copies (份)."
    )
    CAMPAIGN_315 = v("campaign_315", description="A campaign on consumer rights day, 15 March (3·15活动).")
    OTHER = v("other", description="Any other activity, e.g. a consumer-experience day.")


@strawberry.enum(description="The programmes that contact points and enterprises join.")
class ProgrammeCode(Enum):
    REASSURED_CONSUMPTION = v("reassured_consumption", description="Reassured consumption (放心消费).")
    OFFLINE_NO_REASON_RETURN = v(
        "offline_no_reason_return", description="Offline no-reason returns (线下无理由退换货)."
    )
    ODR = v("odr", description="Online dispute resolution (在线纠纷解决) through the 12315 platform.")
    YRD_CROSS_STORE_RETURN = v(
        "yrd_cross_store_return", description="Yangtze Delta cross-region, cross-store returns (长三角异地异店退换货)."
    )
    PRE_COMPENSATION = v("pre_compensation", description="Pre-compensation (先行赔付).")


@strawberry.enum(description="A reassured-consumption unit's level.")
class MembershipLevel(Enum):
    EXCELLENT = v("excellent", description="Excellent (优秀).")
    COMPLIANT = v("compliant", description="Compliant (达标).")
    COMMITTED = v("committed", description="Committed (承诺).")


@strawberry.enum(description="An ODR enterprise's class, by size (as Jinshan district classes them).")
class OdrClass(Enum):
    A = v("A", description="Large.")
    B = v("B", description="Mid-size.")
    C = v("C", description="Small.")


@strawberry.enum(description="What a consumer brought to the contact point.")
class CaseKind(Enum):
    COMPLAINT = v("complaint", description="A complaint (投诉).")
    CONSULTATION = v("consultation", description="A consultation (咨询).")
    ILLEGAL_CONDUCT_LEAD = v("illegal_conduct_lead", description="A lead on illegal conduct (违法线索).")


@strawberry.enum(description="How a case was handled.")
class CaseChannel(Enum):
    ON_SITE = v("on_site", description="On site at the contact point.")
    ONLINE_MEDIATION = v("online_mediation", description="Online mediation over WeCom (线上调解).")
    PLATFORM_12315 = v("platform_12315", description="Through the national 12315 platform.")
    ODR = v("odr", description="Settled online by the enterprise (ODR).")


@strawberry.enum(description="What a case is about.")
class CaseCategory(Enum):
    AFTER_SALES_SERVICE = v("after_sales_service", description="After-sales service (售后服务).")
    PRODUCT_QUALITY = v("product_quality", description="Product quality (产品质量).")
    PREPAID_CONSUMPTION = v(
        "prepaid_consumption", description="Prepaid consumption, e.g. beauty and hairdressing (预付式消费)."
    )
    ONLINE_PURCHASE_RETURN = v(
        "online_purchase_return", description="Returns and exchanges of online purchases (网购退换货)."
    )
    MALL_AFTER_SALES = v("mall_after_sales", description="Supermarket and mall after-sales.")
    OTHER = v("other", description="Anything else.")


@strawberry.enum(description="Where a case stands. SETTLED, NOT_SETTLED and TRANSFERRED are final.")
class CaseStatus(Enum):
    RECEIVED = v("received", description="Received (登记).")
    ACCEPTED = v("accepted", description="Accepted (受理).")
    MEDIATING = v("mediating", description="Being mediated (调解中).")
    SETTLED = v("settled", description="Settled (和解成功).")
    NOT_SETTLED = v("not_settled", description="Not settled (和解不成); the consumer may turn to the regulator.")
    TRANSFERRED = v("transferred", description="Transferred to another body.")


@strawberry.enum(description="What an event of a case records.")
class CaseEventKind(Enum):
    STATUS_CHANGED = v("status_changed", description="A change of status recorded before the API wrote cases.")
    OPENED = v("opened", description="The case was opened (登记).")
    ACCEPTED = v("accepted", description="Accepted (受理).")
    MEDIATION_STARTED = v("mediation_started", description="Mediation began (调解).")
    SETTLED = v("settled", description="Settled (和解成功).")
    CLOSED_UNSETTLED = v("closed_unsettled", description="Closed without settlement (和解不成).")
    TRANSFERRED = v("transferred", description="Transferred to 12315 or the district bureau (移交): closed here.")
    HANDED_OVER = v(
        "handed_over", description="Handed over to another contact point, where it is received anew, still open."
    )
    REOPENED = v("reopened", description="A closed case was reopened.")
    NOTE_ADDED = v("note_added", description="A note was added.")
    CORRECTED = v("corrected", description="Kind, category or respondent corrected; the old values are kept.")
    CHANGED = v("changed", description="Changed outside the API (by SQL), recorded by the database.")


@strawberry.enum(description="Where a case is transferred to.")
class CaseTransferTarget(Enum):
    PLATFORM_12315 = v("platform_12315", description="The national 12315 platform.")
    DISTRICT_BUREAU = v("district_bureau", description="The district's market supervision bureau.")
    CONTACT_POINT = v("contact_point", description="Another contact point, named in `contactPoint`.")


@strawberry.enum(description="What the consumer did at the second store.")
class ReturnKind(Enum):
    RETURN = v("return", description="Returned the goods (退货).")
    EXCHANGE = v("exchange", description="Exchanged them (换货).")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = v("asc", description="Ascending.")
    DESC = v("desc", description="Descending.")
