"""Journeys: funnels (ordered steps within a conversion window) and paths (what people do next or
did before a chosen event), answered by one query module (`sql`) in set-based SQL on PostgreSQL
and SQLite, mirrored by a plain-Python reference (`reference`) that the tests compare it with.
"""
