"""The platform's calendar: dates and times as the bureaus read them, in Beijing time.

China keeps one time zone, UTC+8, without daylight saving (the embedded cluster runs in
Asia/Shanghai). A deadline counted "from today" must start from the bureau's today, not the
server's: a machine on UTC is still on yesterday from 00:00 to 08:00 Beijing time.
"""

from __future__ import annotations

import datetime as dt

BEIJING = dt.timezone(dt.timedelta(hours=8), "UTC+8")


def now() -> dt.datetime:
    """The current time in Beijing time (aware)."""
    return dt.datetime.now(BEIJING)


def today() -> dt.date:
    """Today's date in Beijing time."""
    return now().date()


def beijing(value: dt.datetime) -> dt.datetime:
    """A user's wall-clock time in Beijing time: a naive one is read as Beijing time, an aware
    one converted."""
    return value.replace(tzinfo=BEIJING) if value.tzinfo is None else value.astimezone(BEIJING)
