"""Rate-limit budgets: points per caller per fixed window, in this process or in Redis.

With ``REDIS_URL`` every process of the service charges the same counters, so a budget
spent through one worker is spent for all. Windows are aligned to the epoch: a window's
reset time is the same everywhere and can be sent to clients. If Redis cannot be reached
the request is served (and a warning logged): the per-request cost limit still holds,
and Redis going away must not take the API with it.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from resolvers.limits import Budget, Spend

__all__ = ["InProcessBudget", "RedisBudget", "open_budget"]

log = logging.getLogger(__name__)


class InProcessBudget:
    def __init__(self, points: int, window: int) -> None:
        self.points, self.window = points, window
        self.refusals = 0
        """Charges refused since start: a caller's window was spent (metrics)."""
        self._used: dict[str, tuple[int, int]] = {}

    async def charge(self, who: str, points: int) -> Spend:
        index = int(time.time()) // self.window
        reset_at = (index + 1) * self.window
        if len(self._used) > 100_000:  # forget callers of past windows
            self._used = {k: v for k, v in self._used.items() if v[0] == index}
        seen, used = self._used.get(who, (index, 0))
        used = used if seen == index else 0
        if used + points > self.points:
            self.refusals += 1
            return Spend(False, self.points, used, reset_at)
        self._used[who] = (index, used + points)
        return Spend(True, self.points, used + points, reset_at)


# Check and spend in one step, so two processes cannot both spend the last points.
_CHARGE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return {1, used}
"""


class RedisBudget:
    def __init__(self, client: redis.Redis, points: int, window: int, prefix: str = "liaison:budget") -> None:
        self.client, self.points, self.window, self.prefix = client, points, window, prefix
        self.refusals = 0
        """Charges this process saw refused since start (metrics)."""
        self._charge = client.register_script(_CHARGE)

    async def charge(self, who: str, points: int) -> Spend:
        index = int(time.time()) // self.window
        reset_at = (index + 1) * self.window
        try:
            allowed, used = await self._charge(
                keys=[f"{self.prefix}:{index}:{who}"], args=[points, self.points, reset_at + 1]
            )
        except (RedisError, OSError) as exc:
            log.warning("rate-limit budget not charged, Redis unavailable: %s", type(exc).__name__)
            return Spend(True, self.points, 0, reset_at)
        self.refusals += not allowed
        return Spend(bool(allowed), self.points, int(used), reset_at)

    async def close(self) -> None:
        await self.client.aclose()


def open_budget(redis_url: str | None, points: int, window: int) -> Budget:
    if redis_url is None:
        return InProcessBudget(points, window)
    client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisBudget(client, points, window)
