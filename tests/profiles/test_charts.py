"""The profile's activity figure at the edges: no data, one event, one week, weeks apart."""

import datetime as dt

from cdp_site.charts import DAY_MS, WEEK_MS
from profiles.charts import activity_weekly_figure

MONDAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _days_wide(axis: dict) -> float:
    start, end = (dt.datetime.fromisoformat(v) for v in axis["range"])
    return (end - start).total_seconds() / 86400


def test_no_activity_is_an_empty_state():
    assert activity_weekly_figure([]) is None


def test_one_event_is_one_week_wide_bar_on_a_date_axis_of_weeks():
    figure = activity_weekly_figure([{"week": MONDAY, "source": "Web", "count": 1}])
    (trace,) = figure["data"]
    assert trace["x"] == ["2026-11-23"]
    assert trace["y"] == [1]
    assert trace["width"] == [WEEK_MS * 0.8]
    assert trace["xperiod"] == WEEK_MS
    xaxis, yaxis = figure["layout"]["xaxis"], figure["layout"]["yaxis"]
    assert xaxis["type"] == "date"
    # Four weeks at least, not an axis of fractions of a second around one bar.
    assert _days_wide(xaxis) >= 28
    assert xaxis["tickformat"] == "%b %-d"
    assert yaxis["tickformat"] == ",d"
    assert yaxis["dtick"] == 1


def test_one_week_of_several_sources_stacks_whole_counts():
    figure = activity_weekly_figure(
        [
            {"week": MONDAY, "source": "Web", "count": 12},
            {"week": MONDAY.date(), "source": "", "count": 3},
        ]
    )
    assert [(t["name"], t["y"]) for t in figure["data"]] == [("Web", [12]), ("unknown", [3])]
    assert figure["layout"]["yaxis"]["range"][1] >= 15
    assert "dtick" not in figure["layout"]["yaxis"]


def test_weeks_apart_keep_the_empty_weeks_between_them():
    figure = activity_weekly_figure(
        [
            {"week": MONDAY - dt.timedelta(weeks=3), "source": "Web", "count": 2},
            {"week": MONDAY, "source": "Web", "count": 1},
        ]
    )
    (trace,) = figure["data"]
    assert trace["x"] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert trace["y"] == [2, 0, 0, 1]
    assert figure["layout"]["xaxis"]["dtick"] in (DAY_MS, WEEK_MS)
