"""Date arithmetic: business days between dates, ISO weeks and a calendar."""
import calendar
import datetime as dt
import time

start, end = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
days = (end - start).days + 1
business = sum(1 for i in range(days) if (start + dt.timedelta(days=i)).weekday() < 5)
print("business days:", business)
print("iso week of end:", end.isocalendar().week)
print(calendar.month(2026, 2).splitlines()[0].strip())
print("utc now is after 2020:", dt.datetime.now(dt.timezone.utc).year >= 2020, time.monotonic() > 0)
