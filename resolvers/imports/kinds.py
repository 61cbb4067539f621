"""What each kind of file holds: a declarative mapping from its columns to the model.

A kind is its fields (the model's name, the headers the regulator prints in Chinese and
their English forms, a parser, whether it is required) and the checks that span fields of
one row. Its natural key, duplicates within a file and the checks against the database
(unknown district or contact point, a case's lifecycle) live with its SQL in ``db.imports``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import values as v

__all__ = ["KINDS", "Field", "Kind"]


@dataclass(frozen=True)
class Field:
    name: str
    zh: tuple[str, ...]
    """Headers in Chinese; the first is the one documented and reported."""
    en: tuple[str, ...]
    parse: v.Parser
    required: bool = False

    @property
    def headers(self) -> tuple[str, ...]:
        return (*self.zh, *self.en, self.name)


Check = Callable[[dict[str, Any]], tuple[str, str] | None]
"""A check across a row's fields: None, or (the field at fault, why)."""


@dataclass(frozen=True)
class Kind:
    name: str
    fields: tuple[Field, ...]
    checks: tuple[Check, ...] = field(default=())

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


DISTRICT = v.code(r"[1-9][0-9]{5}", "310115")
POINT = v.code(r"CP[1-9][0-9]{5}-[0-9]{5}", "CP310115-00001")
CREDIT_CODE = v.code(r"[0-9A-HJ-NPQRTUWXY]{18}", "91310115MA16BD9Y56 (18 characters)")

HOST_KINDS = {
    "村居委": "residential_committee",
    "居委": "residential_committee",
    "村委": "residential_committee",
    "居民区": "residential_committee",
    "residential committee": "residential_committee",
    "商场超市市场": "market_mall",
    "商场": "market_mall",
    "超市": "market_mall",
    "市场": "market_mall",
    "mall": "market_mall",
    "景区": "scenic_area",
    "旅游景区": "scenic_area",
    "scenic area": "scenic_area",
    "学校": "school",
    "军营": "barracks",
    "企业": "enterprise",
    "商铺": "shop",
    "门店": "shop",
    "其他": "other",
}


def _code_in_district(row: dict[str, Any]) -> tuple[str, str] | None:
    if row["code"][2:8] != row["district_code"]:
        return "district_code", f"the code {row['code']} belongs to district {row['code'][2:8]}"
    return None


CONTACT_POINTS = Kind(
    "contact-points",
    (
        Field("code", ("联络点编号", "编号", "联络点代码"), ("code", "contact point code"), POINT, True),
        Field("name", ("联络点名称", "名称"), ("name",), v.text, True),
        Field("name_en", ("英文名称",), ("english name", "name (english)"), v.text),
        Field("district_code", ("区代码", "所属区代码", "行政区划代码"), ("district", "district code"), DISTRICT, True),
        Field(
            "street_town",
            ("街镇", "所属街镇", "街道(镇)"),
            ("street/town", "street or town", "street", "street.name"),  # the last as the register exports it
            v.text,
            True,
        ),
        Field(
            "host_kind",
            ("类型", "依托单位类型", "设立类型"),
            ("host kind", "kind"),
            v.choice(HOST_KINDS, "host kind"),
            True,
        ),
        Field("address", ("地址", "详细地址"), ("address",), v.text, True),
        Field("established_on", ("设立日期", "成立日期", "设立时间"), ("established on", "established"), v.date, True),
        Field("uses_wecom", ("企业微信", "使用企业微信"), ("uses wecom", "wecom"), v.flag),
        Field("has_online_mediation", ("在线调解", "线上调解功能"), ("online mediation",), v.flag),
    ),
    checks=(_code_in_district,),
)

STARS = {"四星": "4", "四星级": "4", "★★★★": "4", "4星": "4", "五星": "5", "五星级": "5", "★★★★★": "5", "5星": "5"}
HONOURS = {
    "市级示范联络点": "municipal_demonstration",
    "市级示范": "municipal_demonstration",
    "municipal demonstration": "municipal_demonstration",
    "浦东百佳联络点": "pudong_hundred_best",
    "百佳联络点": "pudong_hundred_best",
    "百佳": "pudong_hundred_best",
    "pudong hundred best": "pudong_hundred_best",
    "基层优秀联络点": "grassroots_excellent",
    "基层优秀": "grassroots_excellent",
    "grass-roots excellent": "grassroots_excellent",
    "grassroots excellent": "grassroots_excellent",
}
_award = v.choice({**STARS, **HONOURS, "4": "4", "5": "5"}, "star rating or honour")


def _batch(value: Any) -> int:
    folded = v.text(value)
    found = re.fullmatch(r"第?\s*([0-9０-９一二三四五六七八九十]+)\s*批?", folded)
    numerals = "一二三四五六七八九"
    if found and found.group(1) in numerals:
        return numerals.index(found.group(1)) + 1
    return v.integer(found.group(1) if found else folded)


def _award_needs_batch(row: dict[str, Any]) -> tuple[str, str] | None:
    if row["award"] in ("4", "5") and row.get("batch") is None:
        return "batch", "a star rating is awarded in a batch"
    if row["award"] not in ("4", "5") and row.get("batch") is not None:
        return "batch", "an honour is not awarded in a batch; leave the batch empty"
    if row["award"] not in ("4", "5") and row.get("awarded_on") is None:
        return "awarded_on", "an honour needs the day it was awarded"
    return None


AWARDS = Kind(
    "awards",
    (
        Field("contact_point_code", ("联络点编号", "编号"), ("contact point code", "code"), POINT, True),
        Field("award", ("星级", "荣誉", "星级/荣誉"), ("award", "stars", "honour"), _award, True),
        Field("batch", ("批次",), ("batch",), _batch),
        Field("awarded_on", ("评定日期", "授予日期", "命名日期"), ("awarded on",), v.date),
    ),
    checks=(_award_needs_batch,),
)
"""Star ratings (one per point and batch) and
honours (one of each per point). Without a date, a star rating takes its batch's."""

PROGRAMMES = {
    "放心消费": "reassured_consumption",
    "放心消费创建": "reassured_consumption",
    "线下无理由退换货": "offline_no_reason_return",
    "线下无理由退货": "offline_no_reason_return",
    "在线纠纷解决": "odr",
    "odr": "odr",
    "odr企业": "odr",
    "长三角异地异店退换货": "yrd_cross_store_return",
    "异地异店退换货": "yrd_cross_store_return",
    "先行赔付": "pre_compensation",
}
LEVELS = {
    "优秀": "excellent",
    "优秀单位": "excellent",
    "达标": "compliant",
    "达标单位": "compliant",
    "承诺": "committed",
    "承诺单位": "committed",
}


def _membership_rules(row: dict[str, Any]) -> tuple[str, str] | None:
    if (row.get("contact_point_code") is None) == (row.get("credit_code") is None):
        return "contact_point_code", "a member is a contact point or an enterprise: give exactly one code"
    reassured = row["programme_code"] == "reassured_consumption"
    if reassured != (row.get("level") is not None):
        return "level", "reassured consumption, and only it, has a level (优秀/达标/承诺)"
    if row.get("odr_class") is not None and row["programme_code"] != "odr":
        return "odr_class", "only ODR enterprises have a class"
    if row.get("committed_days") is not None:
        if row["programme_code"] not in ("offline_no_reason_return", "yrd_cross_store_return"):
            return "committed_days", "only return programmes commit to days"
        if row["committed_days"] < 7:
            return "committed_days", "members commit to at least 7 days"
    if row.get("ended_on") is not None and row["ended_on"] < row["started_on"]:
        return "ended_on", "ends before it starts"
    return None


MEMBERSHIPS = Kind(
    "memberships",
    (
        Field("programme_code", ("项目", "项目名称"), ("programme",), v.choice(PROGRAMMES, "programme"), True),
        Field("contact_point_code", ("联络点编号",), ("contact point code",), POINT),
        Field(
            "credit_code", ("统一社会信用代码", "信用代码"), ("credit code", "unified social credit code"), CREDIT_CODE
        ),
        Field("level", ("等级", "级别"), ("level",), v.choice(LEVELS, "level")),
        Field(
            "odr_class",
            ("ODR分类", "分类"),
            ("odr class", "class"),
            v.choice({"A类": "A", "B类": "B", "C类": "C"}, "class"),
        ),
        Field("committed_days", ("承诺天数", "承诺期限"), ("committed days",), v.integer),
        Field("started_on", ("开始日期", "加入日期"), ("started on", "start"), v.date, True),
        Field("ended_on", ("结束日期", "退出日期"), ("ended on", "end"), v.date),
    ),
    checks=(_membership_rules,),
)

CASE_KINDS = {
    "投诉": "complaint",
    "咨询": "consultation",
    "违法线索": "illegal_conduct_lead",
    "举报": "illegal_conduct_lead",
}
CHANNELS = {
    "现场": "on_site",
    "现场接待": "on_site",
    "线上调解": "online_mediation",
    "在线调解": "online_mediation",
    "12315平台": "platform_12315",
    "12315": "platform_12315",
    "odr": "odr",
    "在线纠纷解决": "odr",
}
CATEGORIES = {
    "售后服务": "after_sales_service",
    "产品质量": "product_quality",
    "预付式消费": "prepaid_consumption",
    "网购退换货": "online_purchase_return",
    "商场超市售后": "mall_after_sales",
    "其他": "other",
}
STATUSES = {
    "登记": "received",
    "已登记": "received",
    "受理": "accepted",
    "已受理": "accepted",
    "调解中": "mediating",
    "和解成功": "settled",
    "调解成功": "settled",
    "和解不成": "not_settled",
    "调解不成": "not_settled",
    "转办": "transferred",
    "已转办": "transferred",
}
CLOSED = ("settled", "not_settled", "transferred")


def _case_rules(row: dict[str, Any]) -> tuple[str, str] | None:
    if (row.get("closed_at") is not None) != (row["status"] in CLOSED):
        return "closed_at", "a settled, unsettled or transferred case has a closing time, and only such a case"
    if row.get("closed_at") is not None and row["closed_at"] < row["opened_at"]:
        return "closed_at", "closed before it was opened"
    if row.get("amount_recovered") is not None and row.get("amount_claimed") is None:
        return "amount_claimed", "an amount recovered needs the amount claimed"
    if row["number"][8:12] != str(row["opened_at"].astimezone(v.SHANGHAI).year):
        return "number", f"the number's year is not the year the case was opened ({row['opened_at']:%Y})"
    return None


CASES = Kind(
    "cases",
    (
        Field(
            "number",
            ("案件编号", "编号"),
            ("case number", "number"),
            v.code(r"C[1-9][0-9]{5}-[0-9]{4}-[0-9]{6,7}", "C310115-2020-000001"),
            True,
        ),
        Field("contact_point_code", ("联络点编号",), ("contact point code",), POINT, True),
        Field("kind", ("类型", "案件类型"), ("kind",), v.choice(CASE_KINDS, "case kind"), True),
        Field("channel", ("渠道", "受理渠道"), ("channel",), v.choice(CHANNELS, "channel"), True),
        Field("category", ("类别", "问题类别"), ("category",), v.choice(CATEGORIES, "category"), True),
        Field("status", ("状态", "处理状态"), ("status",), v.choice(STATUSES, "status"), True),
        Field(
            "respondent_credit_code", ("被诉企业信用代码", "统一社会信用代码"), ("respondent credit code",), CREDIT_CODE
        ),
        Field("amount_claimed", ("诉求金额", "争议金额"), ("amount claimed",), v.amount),
        Field("amount_recovered", ("挽回金额", "挽回经济损失"), ("amount recovered",), v.amount),
        Field("opened_at", ("受理时间", "登记时间"), ("opened at",), v.moment, True),
        Field("closed_at", ("办结时间",), ("closed at",), v.moment),
        Field("summary", ("摘要", "情况摘要"), ("summary",), v.text),
        Field("consumer_name", ("消费者姓名", "姓名"), ("consumer name",), v.text),
        Field("consumer_phone", ("消费者电话", "联系电话"), ("consumer phone", "phone"), v.mobile_phone),
    ),
    checks=(_case_rules,),
)

ACTIVITY_KINDS = {
    "培训": "training",
    "培训讲座": "training",
    "普法讲座": "training",
    "讲座": "training",
    "发放宣传资料": "leaflets",
    "发放宣传材料": "leaflets",
    "宣传资料": "leaflets",
    "leaflet distribution": "leaflets",
    "3·15活动": "campaign_315",
    "3.15活动": "campaign_315",
    "315活动": "campaign_315",
    "3·15": "campaign_315",
    "3.15": "campaign_315",
    "315": "campaign_315",
    "3-15 campaign": "campaign_315",
    "campaign 315": "campaign_315",
    "其他": "other",
    "其他活动": "other",
}


ACTIVITIES = Kind(
    "activities",
    (
        Field("contact_point_code", ("联络点编号", "编号"), ("contact point code", "code"), POINT, True),
        Field("held_on", ("活动日期", "日期", "开展日期"), ("held on", "date"), v.date, True),
        Field("kind", ("活动类型", "类型"), ("kind", "activity"), v.choice(ACTIVITY_KINDS, "kind of activity"), True),
        Field("attendance", ("参加人次", "人次", "培训人次"), ("attendance",), v.integer),
        Field("copies", ("发放份数", "份数", "宣传资料份数"), ("copies", "leaflets"), v.integer),
        Field("title", ("活动名称", "主题"), ("title",), v.text),
    ),
)
"""Education activities (消费教育), one per point, day and kind; an empty count keeps what is held (0 if new)."""

KINDS = {kind.name: kind for kind in (CONTACT_POINTS, AWARDS, MEMBERSHIPS, CASES, ACTIVITIES)}
