"""A case's status events: received → accepted → mediating → settled | not_settled | transferred.

Complaints are mediated before they end; a consultation is answered ("settled") or passed on
from acceptance, and a lead on illegal conduct is transferred to the district bureau. A case
still open stops at the status it had reached when the data was taken.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .draw import between

__all__ = ["OPEN", "TERMINAL", "Event", "lifecycle"]

TERMINAL = ("settled", "not_settled", "transferred")
OPEN = ("received", "accepted", "mediating")

Event = tuple[str, datetime, str, str]  # status, at, actor, note

_RECEIVED = {
    "on_site": ("联络点联络员", "现场登记"),
    "online_mediation": ("联络点联络员", "企业微信在线登记"),
    "platform_12315": ("12315平台", "12315平台派单"),
    "odr": ("12315平台", "12315平台ODR派单至企业"),
}
_MEDIATING_NOTE = {
    "on_site": "组织双方现场调解",
    "online_mediation": "企业微信线上调解(零接触、零跑腿)",
    "platform_12315": "联系双方电话调解",
    "odr": "企业在线协商处理",
}
_MINUTE, _HOUR, _DAY = 60, 3600, 86400


def _path(kind: str, status: str, rng: random.Random) -> list[str]:
    if status in OPEN:
        return list(OPEN[: OPEN.index(status) + 1])
    if kind == "complaint":
        mediated = status != "transferred" or rng.random() < 0.5
        return ["received", "accepted", *(["mediating"] if mediated else []), status]
    return ["received", "accepted", status]


def _gap(rng: random.Random, kind: str, channel: str, status: str) -> int:
    """Seconds from the previous event. ODR: accepted within 2 days, closed within 7."""
    if status == "accepted":
        return between(rng, _HOUR, 40 * _HOUR) if channel == "odr" else between(rng, 5 * _MINUTE, _DAY)
    if status == "mediating":
        return between(rng, 30 * _MINUTE, 2 * _DAY)
    if kind == "consultation":
        return between(rng, 5 * _MINUTE, _DAY)
    if channel == "odr":
        return between(rng, 2 * _HOUR, 3 * _DAY)
    return between(rng, 2 * _HOUR, 15 * _DAY)


def _actor(status: str, kind: str, channel: str, bureau: str) -> tuple[str, str]:
    if status == "received":
        return _RECEIVED[channel]
    if status == "transferred":
        return bureau, f"移交{bureau}依法处理"
    odr = channel == "odr"
    if status == "accepted":
        return ("企业ODR专员" if odr else "联络点联络员"), "受理"
    if status == "mediating":
        return ("企业ODR专员" if odr else "联络点调解员"), _MEDIATING_NOTE[channel]
    if kind == "consultation":
        return "联络点联络员", "已答复"
    actor = "企业ODR专员" if odr else "联络点调解员"
    return actor, "和解成功" if status == "settled" else "和解不成,告知消费者可向市场监管部门投诉"


def lifecycle(
    rng: random.Random, opened_at: datetime, kind: str, channel: str, status: str, bureau: str, as_of: datetime
) -> list[Event]:
    """The events towards ``status``, cut at ``as_of``: the case's status is the last one's."""
    events: list[Event] = []
    at = opened_at
    for step in _path(kind, status, rng):
        if step != "received":
            at += timedelta(seconds=_gap(rng, kind, channel, step))
        if at > as_of:
            break
        events.append((step, at, *_actor(step, kind, channel, bureau)))
    return events
