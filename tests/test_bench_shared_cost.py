"""bench/shared_cost.py compares Q3's shared answers with the separate ones before it times them."""

from __future__ import annotations

import pytest

from bench.shared_cost import GROUPS, measure


async def test_q3_shared_answers_as_alone_and_each_group_size_is_timed(
    demo_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await measure(demo_dsn, rounds=1, executions=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" at once")[0] for line in lines] == [str(size) for size in GROUPS]
    assert all("shared" in line for line in lines)
