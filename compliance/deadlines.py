"""Calendar arithmetic of the legal deadlines (GDPR Art. 12(3)): months, not 30-day blocks."""

import calendar
import datetime as dt


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later, or that month's last day when it is shorter
    (31 January + 1 month = 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_state(due: dt.date, today: dt.date) -> str:
    """`overdue`, `due_soon` (within a week) or `on_time`, for the queue's highlighting."""
    if due < today:
        return "overdue"
    if due <= today + dt.timedelta(days=7):
        return "due_soon"
    return "on_time"
