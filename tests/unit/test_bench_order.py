"""The benchmark's run order (scripts/bench/running.py): tools rotate each repeat."""

from __future__ import annotations

from scripts.bench.running import tool_order


def test_each_tool_takes_each_place_once_over_as_many_repeats() -> None:
    tools = ["s3client", "s5cmd", "obstore"]
    orders = [tool_order(tools, rep) for rep in range(len(tools))]
    assert orders[0] == tools  # the first repeat keeps the order given
    for place in range(len(tools)):
        assert sorted(order[place] for order in orders) == sorted(tools)
    assert tool_order(tools, len(tools)) == tools


def test_no_tools_no_order() -> None:
    assert tool_order([], 3) == []
