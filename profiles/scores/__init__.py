"""Scores of customers computed from their events: RFM quintiles and groups, and churn risk.

Each score is written into `ProfileComputed.values` under its own keys only (`rfm_recency`,
`rfm_frequency`, `rfm_monetary`, `rfm_group`, `churn_probability`), merged in set-based SQL so
that the computed traits written by others stay untouched.
"""
