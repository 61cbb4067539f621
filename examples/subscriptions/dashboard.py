"""A district dashboard that follows case events live, and resumes where it left off.

    pip install "gql[websockets]"
    LIAISON_KEY=lgk_... python dashboard.py ws://127.0.0.1:8000/graphql 310115

Keeps the last cursor in ``cursor.txt``: started again (after a crash, a deploy, a network
cut), it first gets every event it missed, then live ones, in commit order.
"""

import asyncio
import os
import sys
from pathlib import Path

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

CASE_EVENTS = """
subscription ($filter: CaseEventStreamFilter) {
  caseEvents(filter: $filter) {
    cursor
    committedAt
    event { kind status actor note }
    case { number kind status consumerName contactPoint { code name } }
  }
}
"""
CURSOR = Path("cursor.txt")


def last_cursor() -> str | None:
    return CURSOR.read_text().strip() if CURSOR.exists() else None


def remember(cursor: str) -> None:
    CURSOR.write_text(cursor)


async def follow(url: str, district: str) -> None:
    transport = WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {os.environ['LIAISON_KEY']}"},  # API key or JWT
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
    )
    wanted = {"districtCodes": [district], "kinds": ["OPENED", "SETTLED", "CLOSED_UNSETTLED", "TRANSFERRED"]}
    if (after := last_cursor()) is not None:
        wanted["after"] = after
    async with Client(transport=transport) as session:
        request = GraphQLRequest(CASE_EVENTS, variable_values={"filter": wanted})
        async for result in session.subscribe(request):
            delivery = result["caseEvents"]
            case, event = delivery["case"], delivery["event"]
            print(
                f"{delivery['committedAt']} {case['number']} {event['kind']} -> {case['status']}"
                f" at {case['contactPoint']['name']} ({case['consumerName'] or '-'})"
            )
            remember(delivery["cursor"])


async def main() -> None:
    url, district = sys.argv[1], sys.argv[2]
    while True:
        try:
            await follow(url, district)
        except TransportQueryError as exc:  # refused or ended with a code: do not retry blindly
            print("stopped:", exc.errors, file=sys.stderr)
            return
        except (OSError, ConnectionError) as exc:  # the connection dropped: resume from the cursor
            print("reconnecting:", exc, file=sys.stderr)
            await asyncio.sleep(2)


if __name__ == "__main__":
    asyncio.run(main())
