"""The console's "Retry failed tasks" button: a new job over a finished job's failed tasks (JobService.retry)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchops.console.auth import account_of
from batchops.console.state import console_state
from batchops.console.views import base, flash, protected
from batchops.errors import BatchOpsError, JobNotFound
from batchops.service.retry import RetryRequest

#: Error codes as typed in the form: separated by commas or white space.
_SEPARATORS = re.compile(r"[\s,]+")


def error_codes(typed: str) -> tuple[str, ...]:
    return tuple(code for code in _SEPARATORS.split(typed) if code)


@protected
async def retry(request: Request) -> Response:
    job_id = str(request.path_params["job_id"])
    form = await request.form()
    app = console_state(request).services
    account = app.settings.account(account_of(request))
    assert account is not None  # VerifiedSession ended any session whose account is no longer configured
    # The form's token was drawn when the page was drawn: submitting it twice retries once.
    token = str(form.get("client_request_token") or "")
    retry_request = RetryRequest(job_id, token, error_codes(str(form.get("error_codes") or "")))
    try:
        new_id, created = await app.jobs.retry(account, retry_request)
    except BatchOpsError as exc:
        if isinstance(exc, JobNotFound):
            raise
        flash(request, "error", f"Refused: {exc}")
        return RedirectResponse(f"{base(request)}/jobs/{job_id}", status_code=303)
    said = "created" if created else "was already created by this form"
    flash(request, "ok", f"Job {new_id} {said}: it retries the failed tasks of job {job_id}.")
    return RedirectResponse(f"{base(request)}/jobs/{new_id}", status_code=303)
