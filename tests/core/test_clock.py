"""The platform's calendar is Beijing time whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from gis_platform.core import clock


def test_today_is_the_beijing_date_on_a_machine_on_another_zone():
    # A process on UTC-10 (Hawaii, no DST): its local date is behind Beijing's for 18 hours a day.
    code = ("import datetime as dt; from gis_platform.core import clock; "
            "print(clock.today(), dt.date.today(), dt.datetime.now(dt.timezone.utc).isoformat())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TZ": "HST10"}).stdout.split()
    utc = dt.datetime.fromisoformat(out[2])
    assert out[0] == str((utc + dt.timedelta(hours=8)).date())
    assert out[1] == str((utc - dt.timedelta(hours=10)).date())


def test_a_users_wall_clock_time_is_read_as_beijing_time():
    naive = clock.beijing(dt.datetime(2026, 12, 1, 0, 0))
    assert naive.utcoffset() == dt.timedelta(hours=8)
    assert naive.astimezone(dt.timezone.utc) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc)
    aware = clock.beijing(dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc))
    assert (aware.date(), aware.hour) == (dt.date(2026, 12, 1), 0)
    assert clock.now().utcoffset() == dt.timedelta(hours=8)
