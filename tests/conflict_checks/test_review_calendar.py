"""Review deadlines in working days over the holiday calendar, and deadlines past it."""

from __future__ import annotations

import datetime as dt

from conflict_checks.review import add_working_days, deadline_estimated, deadline_rules

D = dt.date


def test_working_days_skip_the_national_day_holiday_and_count_the_make_up_saturday():
    # 2026: 1-7 Oct off except the weekend 3-4 (off anyway); Sat 10 Oct is a make-up working day.
    # From Wed 30 Sep: Thu 8 (1), Fri 9 (2), Sat 10 (3), Mon 12 (4), Tue 13 (5).
    assert add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)
    assert add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    # an ordinary week: Fri 13 Nov + 5 = Fri 20 Nov
    assert add_working_days(D(2026, 11, 13), 5) == D(2026, 11, 20)


def test_a_deadline_in_a_year_without_its_holidays_is_estimated():
    years = deadline_rules()["calendar_years"]
    assert 2026 in years
    last = max(years)
    assert not deadline_estimated(D(last, 12, 1), D(last, 12, 8))
    start = D(last, 12, 28)
    due = add_working_days(start, 5)
    assert due.year == last + 1
    assert deadline_estimated(start, due)
    assert deadline_estimated(D(last + 1, 3, 2), D(last + 1, 3, 9))
