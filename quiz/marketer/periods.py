"""The dashboard's date ranges: today, the last 7 or 30 days, or custom days, in the shop's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

RANGES = ("today", "7d", "30d", "custom")
LENGTHS = {"today": 1, "7d": 7, "30d": 30}
FIRST_YEAR, LAST_YEAR = 1970, 9000  # the period before a range must still be a date: year 1 has none
MAX_DAYS = 366  # a page reads one record per quiz and day, twice: a year is the most it is asked to read


class PeriodError(ValueError):
    """A range the dashboard cannot show; ``parameter`` names the field, for the form's message."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class Period:
    """The days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range(self.length)]

    def previous(self) -> Period:
        """The period of the same length just before this one: what the changes compare with."""
        return Period(self.first - timedelta(days=self.length), self.first - timedelta(days=1))


def parse_period(chosen: str | None, since: str | None, until: str | None, *, today: date) -> Period:
    """The period a filter form asks for; raises PeriodError naming the field that cannot be used."""
    name = (chosen or "7d").strip()
    if name in LENGTHS:
        return Period(today - timedelta(days=LENGTHS[name] - 1), today)
    if name != "custom":
        raise PeriodError("range", f"{name[:40]!r} is not a range; use today, 7d, 30d or custom")
    first = _day(since, "since")
    last = _day(until, "until")
    if last < first:
        raise PeriodError("until", f"{last} is before {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError("until", f"a range is at most {MAX_DAYS} days; this one has {(last - first).days + 1}")
    return Period(first, last)


def _day(raw: str | None, parameter: str) -> date:
    text = (raw or "").strip()
    if not text:
        raise PeriodError(parameter, "missing; a custom range needs both days, as YYYY-MM-DD")
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(parameter, f"{text[:40]!r} is not a day; use YYYY-MM-DD") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(parameter, f"{text} is out of range; use a day from {FIRST_YEAR} to {LAST_YEAR}")
    return day
