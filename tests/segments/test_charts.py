"""The segment page's figures at the edges: no data, one point, one week, an edit."""

import datetime as dt
from types import SimpleNamespace

from cdp_site.charts import DAY_MS
from segments.charts import flow_figure, flow_per_day, size_over_time, size_over_time_figure

TODAY = dt.date(2026, 11, 29)


def _snapshot(day: dt.date, size: int, digest: str = "a", hour: int = 12):
    taken_at = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
    return SimpleNamespace(taken_at=taken_at, size=size, definition_digest=digest)


def _days_wide(axis: dict) -> float:
    start, end = (dt.datetime.fromisoformat(v) for v in axis["range"])
    return (end - start).total_seconds() / 86400


def test_size_chart_without_computations_is_an_empty_state():
    assert size_over_time_figure([]) is None
    assert size_over_time([]) == ""


def test_size_chart_of_one_computation_is_one_point_on_a_readable_date_axis():
    figure = size_over_time_figure([_snapshot(TODAY, 8)], today=TODAY)
    (trace,) = figure["data"]
    assert trace["x"] == ["2026-11-29"]
    assert trace["y"] == [8]
    xaxis, yaxis = figure["layout"]["xaxis"], figure["layout"]["yaxis"]
    assert xaxis["type"] == "date"
    assert xaxis["tickformat"] == "%b %-d"
    assert xaxis["dtick"] == DAY_MS
    assert _days_wide(xaxis) >= 7
    assert yaxis["tickformat"] == ",d"
    assert yaxis["range"][0] == 0


def test_size_chart_of_a_week_has_one_point_per_day_the_last_of_each():
    snapshots = [
        _snapshot(TODAY - dt.timedelta(days=n), size, hour=hour)
        for n in range(7)
        for hour, size in ((1, 100 + n), (23, 200 + n))
    ]
    figure = size_over_time_figure(snapshots, today=TODAY)
    (trace,) = figure["data"]
    assert trace["x"] == [(TODAY - dt.timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert trace["y"] == [200 + n for n in range(6, -1, -1)]
    assert figure["layout"]["shapes"] == []


def test_size_chart_draws_no_line_across_an_edit():
    snapshots = [
        _snapshot(TODAY - dt.timedelta(days=2), 500, "old"),
        _snapshot(TODAY - dt.timedelta(days=1), 510, "old"),
        _snapshot(TODAY - dt.timedelta(days=1), 40, "new", hour=18),
        _snapshot(TODAY, 42, "new"),
    ]
    figure = size_over_time_figure(snapshots, today=TODAY)
    (trace,) = figure["data"]
    assert trace["y"] == [500, 510, None, 40, 42]
    assert trace["connectgaps"] is False
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["edited"]
    assert figure["layout"]["shapes"][0]["x0"] == "2026-11-28"


def test_flow_chart_without_anyone_entering_or_leaving_is_an_empty_state():
    assert flow_figure({"entered": {}, "exited": {}}, days=30, today=TODAY) is None
    assert flow_per_day({"entered": {}, "exited": {}}, days=30, today=TODAY) == ""


def test_flow_chart_of_one_day_counts_in_whole_numbers():
    flow = {"entered": {TODAY: 3}, "exited": {TODAY: 1}}
    figure = flow_figure(flow, days=30, today=TODAY)
    entered, exited = figure["data"]
    assert entered["y"][-1] == 3
    assert exited["y"][-1] == -1
    assert exited["customdata"][-1] == 1
    assert len(entered["x"]) == 31
    yaxis = figure["layout"]["yaxis"]
    assert yaxis["tickformat"] == ",d"
    assert yaxis["dtick"] == 1
    assert yaxis["range"][0] < -1 < 3 < yaxis["range"][1]
    assert figure["layout"]["xaxis"]["type"] == "date"


def test_flow_chart_of_a_week_keeps_every_day():
    flow = {
        "entered": {TODAY - dt.timedelta(days=n): n + 1 for n in range(7)},
        "exited": {},
    }
    figure = flow_figure(flow, days=6, today=TODAY)
    entered, _ = figure["data"]
    assert entered["y"] == [7, 6, 5, 4, 3, 2, 1]
    assert entered["x"][0] == "2026-11-23"
    assert figure["layout"]["xaxis"]["dtick"] == DAY_MS
