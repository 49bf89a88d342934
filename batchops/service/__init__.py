"""The application layer: the one door the S3 Control and COS routes and the console views go through."""

from batchops.service.access import Services, services
from batchops.service.jobs import JobDetail, JobSearch, JobService, SearchPage

__all__ = ["JobDetail", "JobSearch", "JobService", "SearchPage", "Services", "services"]
