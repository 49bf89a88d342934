"""The application layer: the one door the S3 Control and COS routes and the console views go through."""

from batchops.service.access import Services, services
from batchops.service.jobs import SEARCH_SORTS, AccountTotals, JobDetail, JobSearch, JobService, SearchPage
from batchops.service.sessions import ConsoleSessions

__all__ = [
    "SEARCH_SORTS",
    "AccountTotals",
    "ConsoleSessions",
    "JobDetail",
    "JobSearch",
    "JobService",
    "SearchPage",
    "Services",
    "services",
]
