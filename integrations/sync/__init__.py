"""Sync runs of pull sources: storing their records as events (`records`) and running them
(`runner`), with schedules (`schedules`)."""
