"""What a failing or overloaded store answers: read by the lean client's retries and adaptive limit and by the
circuit breaker, so the three agree on it."""

#: HTTP answers that mean the store (not the request) is failing: retried, and counted as an outage.
FAILING_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Error codes that mean "the store is overloaded", whatever the status: the adaptive limit halves.
THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
