"""When to try again after a failed delivery: the mail queue and the LINE queue share one schedule."""

FIRST_RETRY = 30.0  # seconds; doubles after each failed attempt
LONGEST_RETRY = 60 * 60.0  # seconds: one hour
GIVE_UP_AFTER = 3 * 24 * 60 * 60.0  # seconds: three days, as mail servers do
POLL_EVERY = 1.0  # seconds between delivery passes when nothing wakes a queue's thread


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 30 s, 60 s, 120 s ... up to an hour."""
    return float(min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY))
