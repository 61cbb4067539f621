"""What the subscription tests share: the subscription document."""

from __future__ import annotations

CASE_EVENTS = """subscription ($filter: CaseEventStreamFilter) {
  caseEvents(filter: $filter) {
    cursor
    event { kind status actorRole }
    case { number status consumerName consumerPhone contactPoint { code } }
  }
}"""
