"""The demo's quotas: the published figures (shared/domain.md) and the splits chosen where
none is published. Every generator takes its numbers from here, and DATA.md explains each.

The tests deliberately do not import this module: they count with SQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

SEED = 20200928
SHANGHAI_TZ = timezone(timedelta(hours=8), "CST")

# Fixed dates.
FIRST_POINT_ON = date(2014, 1, 1)
BATCH_ON = {1: date(2019, 3, 15), 2: date(2020, 9, 28)}  # as in migration 0004
CASES_AS_OF = datetime(2020, 9, 27, 23, 59, 59, tzinfo=SHANGHAI_TZ)  # the cases' snapshot
YRD_LAUNCH_ON = date(2020, 5, 14)
YRD_ALLIANCE_ON = date(2021, 4, 30)
OFFLINE_RETURNS_ON = date(2019, 7, 1)

# Contact points per Shanghai district: (residential_committee, five-into, others).
PUDONG = "310115"
JINSHAN = "310116"
POINTS: dict[str, tuple[int, int, int]] = {
    "310101": (176, 120, 50),
    "310104": (306, 120, 50),
    "310105": (185, 90, 35),
    "310106": (266, 130, 50),
    "310107": (262, 100, 40),
    "310109": (203, 80, 30),
    "310110": (307, 110, 40),
    "310112": (560, 200, 70),
    "310113": (460, 140, 50),
    "310114": (360, 120, 40),
    PUDONG: (1288, 456, 175),
    JINSHAN: (204, 80, 30),
    "310117": (370, 130, 50),
    "310118": (300, 100, 35),
    "310120": (350, 100, 35),
    "310151": (329, 60, 20),
}
SHANGHAI_POINTS = 8862
# How five-into and other points divide among host kinds (Pudong's exactly, the rest by share).
PUDONG_FIVE_INTO = {"market_mall": 210, "school": 96, "enterprise": 110, "scenic_area": 28, "barracks": 12}
PUDONG_OTHERS = {"shop": 120, "other": 55}
FIVE_INTO_SHARE = {"market_mall": 0.46, "school": 0.21, "enterprise": 0.24, "scenic_area": 0.06, "barracks": 0.03}
OTHERS_SHARE = {"shop": 0.69, "other": 0.31}
PARTNER_POINTS_PER_CITY = 2
PARTNER_CITIES = ("320100", "320200", "320500", "330100", "330200", "330400", "340100", "340200")

# Honours.
DEMONSTRATION: dict[str, int] = {
    "310101": 12,
    "310104": 16,
    "310105": 10,
    "310106": 14,
    "310107": 11,
    "310109": 9,
    "310110": 12,
    "310112": 22,
    "310113": 17,
    "310114": 13,
    PUDONG: 57,
    JINSHAN: 8,
    "310117": 15,
    "310118": 10,
    "310120": 11,
    "310151": 9,
}
PUDONG_HUNDRED_BEST = 127
# 基层优秀联络点, the third tier: not published; chosen among Pudong's points without a higher
# honour, 5 per street or town where it has that many, from their own random stream.
GRASSROOTS_EXCELLENT_PER_STREET = 5
GRASSROOTS_SEED_OFFSET = 3

# Star ratings.
BATCH1_FIVE, BATCH1_FOUR = 34, 50  # 84; the split is not published
BATCH2_FIVE, BATCH2_FOUR = 56, 99  # 155
UPGRADES = 23  # batch-1 four-star points rated five in batch 2

# Programme memberships of the 155 batch-2 points (published), and of other points (chosen).
BATCH2_REASSURED = {"excellent": 25, "compliant": 46, "committed": 10}
BATCH2_PROGRAMMES = {"offline_no_reason_return": 29, "odr": 27, "yrd_cross_store_return": 1}
BATCH2_PRE_COMPENSATION = 12
OTHER_POINT_MEMBERSHIPS = {
    "reassured_consumption": 320,
    "offline_no_reason_return": 180,
    "odr": 40,
    "yrd_cross_store_return": 12,
    "pre_compensation": 60,
}

# Enterprises.
YRD_ENTERPRISES, YRD_AT_LAUNCH = 82, 67
YRD_PARTNER_BASED = 22  # of the 82, registered in a partner city
JINSHAN_ODR = {"A": 4, "B": 10, "C": 18}
OTHER_ODR_ENTERPRISES = 40
OTHER_ENTERPRISES = 480
ENTERPRISE_MEMBERSHIPS = {"reassured_consumption": 150, "offline_no_reason_return": 120, "pre_compensation": 30}
CROSS_STORE_RETURNS = 3000

# Cases.
ONLINE_SETTLED_2020 = 466  # published: settled by online mediation this year
ONLINE_SETTLED_2020_AFTER_SALES_OR_QUALITY = 233  # "about half"
ONLINE_UNSETTLED_2020 = {"not_settled": 58, "transferred": 12, "open": 24}
# Jinshan ODR complaints per class: (complaints, settled); 85 % of 508 = 431.8 -> 432,
# 95 % of 29 = 27.55 -> 28, 100 % of 2 = 2.
JINSHAN_ODR_COMPLAINTS = {"A": (508, 432), "B": (29, 28), "C": (2, 2)}
PUDONG_WINDOW = (date(2015, 1, 1), date(2019, 7, 4))  # both ends inclusive; "since 2015" to the article
PUDONG_CONSULTATIONS, PUDONG_COMPLAINTS, PUDONG_LEADS = 11_800, 8_600, 1_050  # 20,400 and 1,050
PUDONG_BEFORE = (date(2014, 3, 15), date(2014, 12, 31), 400)
PUDONG_AFTER = (date(2019, 7, 6), CASES_AS_OF.date(), 3_600)
OTHER_DISTRICT_CASES = 14_000  # spread over the other 15 districts by their number of points
OTHER_CASES_FROM = date(2015, 1, 1)
PARTNER_CASES_PER_POINT = 8

# Education activities (消费教育). Pudong's in its window (PUDONG_WINDOW): the article's
# "培训8万余人次" and "宣传材料10余万份" as exact totals chosen above the published floors.
# kind -> (activities, attendance, copies); 3·15 campaigns are held on 15 March.
PUDONG_EDUCATION = {
    "training": (1_800, 81_600, 0),
    "leaflets": (1_300, 0, 84_000),
    "campaign_315": (450, 27_000, 19_800),
    "other": (250, 6_000, 0),
}
PUDONG_EDUCATION_AFTER = 400  # 2019-07-06 to the snapshot, mixed kinds
OTHER_DISTRICT_EDUCATION = 3_000  # the other 15 districts, 2015-01-01 to the snapshot
EDUCATION_SEED_OFFSET = 315  # its own random stream: the rest of the demo stays as it was

__all__ = [name for name in dir() if name.isupper()]
