"""Churn risk: the probability that a customer does not buy again within a horizon.

Trained on the data itself. The features of every customer (a live profile with an order) are
computed in SQL as of a cutoff one horizon before now; the label is whether the customer ordered
again in the horizon after the cutoff. A share of the customers is held out: the model (logistic
regression over log-scaled recency, frequency, monetary value, tenure and recent activity) is
fitted on the rest and measured on them by ROC AUC and a calibration curve, beside a naive
baseline that knows only recency (a logistic regression on days since the last order).

The model is offered only when it beats the baseline on the held-out customers with 95%
confidence (a paired bootstrap of the difference in AUC) and is better than chance; otherwise the
run says so and every `churn_probability` is removed, so no score is shown without its measured
quality. An offered model scores every customer on features as of now.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from cdp_site.db import dumps

from ..models import ScoreRun
from . import sql

KEY = "churn_probability"
DEFAULT_HORIZON_DAYS = 90
FEATURES = (
    "recency_days",
    "orders",
    "revenue",
    "tenure_days",
    "orders_last_90_days",
    "events_last_30_days",
    "events_last_90_days",
)
FEATURE_LABELS = {
    "recency_days": "days since the last order",
    "orders": "orders",
    "revenue": "revenue",
    "tenure_days": "days since the first order",
    "orders_last_90_days": "orders in the last 90 days",
    "events_last_30_days": "events in the last 30 days",
    "events_last_90_days": "events in the last 90 days",
}
HELD_OUT_SHARE = 0.3
# Fewer held-out customers (or of either outcome) than this: too few to measure the model.
MIN_HELD_OUT = 50
MIN_HELD_OUT_PER_CLASS = 10
BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_SAMPLE_CAP = 20_000
CALIBRATION_BINS = 10


@dataclass
class Features:
    ids: np.ndarray
    matrix: np.ndarray  # one row per customer, columns in FEATURES order


def _features_select() -> str:
    t = sql.time_param()
    is_order = "o.event = %s"
    revenue = sql.numeric_property("o.properties", "revenue")
    events = sql.live_events(f"e.timestamp < {t}")
    return f"""
        SELECT o.pid,
            {sql.days_between(f"MAX(CASE WHEN {is_order} THEN o.ts END)", t)} AS recency_days,
            SUM(CASE WHEN {is_order} THEN 1 ELSE 0 END) AS orders,
            COALESCE(SUM(CASE WHEN {is_order} THEN {revenue} END), 0) AS revenue,
            {sql.days_between(f"MIN(CASE WHEN {is_order} THEN o.ts END)", t)} AS tenure_days,
            SUM(CASE WHEN {is_order} AND o.ts >= {t} THEN 1 ELSE 0 END) AS orders_last_90_days,
            SUM(CASE WHEN o.ts >= {t} THEN 1 ELSE 0 END) AS events_last_30_days,
            SUM(CASE WHEN o.ts >= {t} THEN 1 ELSE 0 END) AS events_last_90_days
        FROM ({events}) AS o
        JOIN profiles_profile p ON p.id = o.pid AND p.merged_into_id IS NULL
        GROUP BY o.pid
        HAVING SUM(CASE WHEN {is_order} THEN 1 ELSE 0 END) > 0
        ORDER BY o.pid
    """  # noqa: S608 - constant SQL


def features_as_of(as_of: dt.datetime) -> Features:
    """The features of every customer with an order before `as_of`, from their events before it."""
    order = sql.ORDER_EVENT
    d30, d90 = as_of - dt.timedelta(days=30), as_of - dt.timedelta(days=90)
    # In the order the placeholders appear (`days_between` writes the later time first).
    params = [
        as_of, order,  # recency
        order,  # orders
        order,  # revenue
        as_of, order,  # tenure
        order, d90,  # orders in 90 days
        d30,
        d90,
        as_of,  # events before as_of
        order,  # having
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_features_select(), params)
        rows = cursor.fetchall()
    if not rows:
        return Features(np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES))))
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    matrix = np.array([[float(v) for v in row[1:]] for row in rows], dtype=float)
    return Features(ids, matrix)


def buyers_between(start: dt.datetime, end: dt.datetime) -> set[int]:
    """Live profiles with an order in (start, end]."""
    orders = sql.live_events("e.event = %s AND e.timestamp > %s AND e.timestamp <= %s")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT pid FROM ({orders}) AS o", [sql.ORDER_EVENT, start, end])  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def _model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(
        FunctionTransformer(_log1p_nonnegative), StandardScaler(), LogisticRegression(max_iter=1000)
    )


def _log1p_nonnegative(matrix: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(matrix, 0, None))


def _bootstrap_auc_difference(y, model_p, baseline_p, seed: int) -> tuple[float, float]:
    """The 95% interval of AUC(model) - AUC(baseline) over paired bootstrap resamples."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    n = len(y)
    size = min(n, BOOTSTRAP_SAMPLE_CAP)
    differences = []
    for _ in range(BOOTSTRAP_ROUNDS):
        pick = rng.integers(0, n, size)
        if y[pick].min() == y[pick].max():
            continue
        differences.append(
            roc_auc_score(y[pick], model_p[pick]) - roc_auc_score(y[pick], baseline_p[pick])
        )
    if not differences:
        return 0.0, 0.0
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def _calibration(y, p) -> dict:
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="quantile")
    return {
        "predicted": [round(float(v), 4) for v in predicted],
        "observed": [round(float(v), 4) for v in observed],
    }


def churn_evaluate(*, now: dt.datetime, horizon_days: int, seed: int = 0) -> tuple[dict, object]:
    """Train at the cutoff, measure on held-out customers: (details for the page, fitted model
    or None when it is not offered)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    cutoff = now - dt.timedelta(days=horizon_days)
    features = features_as_of(cutoff)
    bought = buyers_between(cutoff, now)
    y = np.array([0 if pid in bought else 1 for pid in features.ids], dtype=int)
    details: dict = {
        "horizon_days": horizon_days,
        "cutoff": cutoff.isoformat(),
        "customers": len(y),
        "churned_share": round(float(y.mean()), 4) if len(y) else None,
        "features": list(FEATURES),
    }
    held_out = int(len(y) * HELD_OUT_SHARE)
    if (
        held_out < MIN_HELD_OUT
        or min(int(y.sum()), int(len(y) - y.sum())) < MIN_HELD_OUT_PER_CLASS / HELD_OUT_SHARE
    ):
        details["offered"] = False
        details["verdict"] = (
            f"Not enough history to measure a model: {len(y)} customers with an order before "
            f"{cutoff:%Y-%m-%d}, of whom {int(y.sum())} did not buy again within "
            f"{horizon_days} days. At least {int(MIN_HELD_OUT / HELD_OUT_SHARE)} customers and "
            f"{int(MIN_HELD_OUT_PER_CLASS / HELD_OUT_SHARE)} of each outcome are needed."
        )
        return details, None
    x_train, x_test, y_train, y_test = train_test_split(
        features.matrix, y, test_size=HELD_OUT_SHARE, random_state=seed, stratify=y
    )
    model = _model().fit(x_train, y_train)
    recency = FEATURES.index("recency_days")
    baseline = LogisticRegression().fit(x_train[:, [recency]], y_train)
    model_p = model.predict_proba(x_test)[:, 1]
    baseline_p = baseline.predict_proba(x_test[:, [recency]])[:, 1]
    auc = float(roc_auc_score(y_test, model_p))
    baseline_auc = float(roc_auc_score(y_test, baseline_p))
    low, high = _bootstrap_auc_difference(y_test, model_p, baseline_p, seed)
    offered = low > 0 and auc > 0.5
    coefficients = model[-1].coef_[0]
    details.update(
        {
            "train": len(y_train),
            "held_out": len(y_test),
            "auc": round(auc, 4),
            "baseline_auc": round(baseline_auc, 4),
            "auc_gain_interval": [round(low, 4), round(high, 4)],
            "calibration": _calibration(y_test, model_p),
            "baseline_calibration": _calibration(y_test, baseline_p),
            "coefficients": {
                name: round(float(c), 4) for name, c in zip(FEATURES, coefficients, strict=True)
            },
            "offered": offered,
        }
    )
    if offered:
        details["verdict"] = (
            f"The model beats the recency baseline on {len(y_test)} held-out customers: ROC AUC "
            f"{auc:.3f} against {baseline_auc:.3f} (gain between {low:+.3f} and {high:+.3f} "
            "with 95% confidence)."
        )
    else:
        details["verdict"] = (
            f"The model does not beat the recency baseline on {len(y_test)} held-out customers "
            f"(ROC AUC {auc:.3f} against {baseline_auc:.3f}; gain between {low:+.3f} and "
            f"{high:+.3f} with 95% confidence): its scores are not offered."
        )
    return details, (model if offered else None)


def _write_scores(ids: np.ndarray, probabilities: np.ndarray | None, now: dt.datetime) -> int:
    """Write `churn_probability` for `ids` and remove it from everyone else (everyone when
    `probabilities` is None)."""
    pairs = (
        []
        if probabilities is None
        else [[int(i), round(float(p), 4)] for i, p in zip(ids, probabilities, strict=True)]
    )
    values = sql.json_object({KEY: "p"})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS churn_scored")
        cursor.execute(sql.temporary_table("churn_scored", sql.pairs_from_json()), [dumps(pairs)])
        cursor.execute(sql.remove_computed((KEY,), "churn_scored"))
        source = f"SELECT pid, {values} AS vals, %s AS at FROM churn_scored"  # noqa: S608
        cursor.execute(sql.merge_computed(source, (KEY,)), [now])
        if not sql.on_postgresql():
            cursor.execute("DROP TABLE churn_scored")
    return len(pairs)


def churn_train(
    *, now: dt.datetime | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS, seed: int = 0
) -> ScoreRun:
    """Train and measure the churn model; when it is offered, score every customer. Returns the
    finished run, whose details the churn page shows."""
    now = now or timezone.now()
    started = time.monotonic()
    run = ScoreRun.objects.create(kind=ScoreRun.Kind.CHURN, started_at=timezone.now())
    try:
        details, model = churn_evaluate(now=now, horizon_days=horizon_days, seed=seed)
        details["training_ms"] = round((time.monotonic() - started) * 1000)
        if model is None:
            scored = _write_scores(np.zeros(0, dtype=np.int64), None, now)
        else:
            current = features_as_of(now)
            probabilities = (
                model.predict_proba(current.matrix)[:, 1] if len(current.ids) else np.zeros(0)
            )
            scored = _write_scores(current.ids, probabilities, now)
            details["distribution"] = np.histogram(probabilities, bins=10, range=(0, 1))[0].tolist()
    except Exception as exc:
        run.status = ScoreRun.Status.FAILED
        run.finished_at = timezone.now()
        run.error = str(exc)[:2000]
        run.save()
        raise
    details["as_of"] = now.isoformat()
    run.status = ScoreRun.Status.DONE
    run.finished_at = timezone.now()
    run.duration_ms = round((time.monotonic() - started) * 1000)
    run.scored = scored
    run.details = details
    run.save()
    return run
