"""Control plane (statuses, priorities) and workers (claim chunks, run tasks, record outcomes)."""
