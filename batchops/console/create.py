"""The console's create-job form: checked as a whole, its manifest placed (or uploaded) where the job's role will
read it, then created through the same JobService.create as CreateJob."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchops.console import forms
from batchops.console.auth import account_of
from batchops.console.state import console_state
from batchops.console.views import base, flash, protected, render
from batchops.domain.job import JobSpec
from batchops.errors import BatchOpsError, RoleNotDeclared
from batchops.operations.acl import CANNED_ACLS
from batchops.service.objects import UPLOAD_PART_BYTES

MAX_MANIFEST_UPLOAD = 512 * 1024 * 1024


@protected
async def new_job_page(request: Request) -> Response:
    return render(request, "create.html", {"form": forms.JobForm.blank(account_of(request)), **_create_choices()})


def _create_choices() -> dict[str, Any]:
    return {"operations": forms.OPERATIONS, "canned_acls": CANNED_ACLS}


@protected
async def create_job(request: Request) -> Response:
    account_id = account_of(request)
    posted = await request.form(max_files=1, max_part_size=MAX_MANIFEST_UPLOAD)
    form = forms.JobForm.posted(posted)
    spec = await _validated_spec(request, form, account_id, posted.get("manifest_file"))
    made = None if spec is None else await _create(request, form, account_id, spec)
    if made is None:
        context = {"form": form, **_create_choices()}
        return render(request, "create.html", context, status_code=400)
    job_id, created = made
    flash(request, "ok", f"Job {job_id} created." if created else f"Job {job_id} was already created by this form.")
    return RedirectResponse(f"{base(request)}/jobs/{job_id}", status_code=303)


async def _create(request: Request, form: forms.JobForm, account_id: str, spec: JobSpec) -> tuple[str, bool] | None:
    """CreateJob's rules past the form (declared RoleArn, job quota, request token); a refusal goes to the form."""
    app = console_state(request).services
    account = app.settings.account(account_id)
    assert account is not None  # VerifiedSession ended any session whose account is no longer configured
    try:
        made: tuple[str, bool] = await app.jobs.create(account, spec, [])
    except BatchOpsError as exc:
        form.refuse(exc)
        return None
    return made


async def _validated_spec(request: Request, form: forms.JobForm, account_id: str, upload: Any) -> Any:
    """Check the whole form first (with a stand-in manifest), then place the manifest, then check again."""
    settings = console_state(request).services.settings
    try:
        bucket, key = _manifest_target(form, upload)
    except forms.FormError as exc:
        form.add_error(exc.field, exc.message)
        bucket, key = "manifest-bucket", "manifest.csv"
    stand_in = forms.validate(form, f"arn:aws:s3:::{bucket}/{key}", forms.PLACEHOLDER_ETAG, settings.threshold)
    if stand_in is None or form.errors:
        return None
    try:
        etag = await _place_manifest(request, form, account_id, bucket, key, upload)
    except forms.FormError as exc:
        form.add_error(exc.field, exc.message)
        return None
    except BatchOpsError as exc:
        form.add_error("upload_bucket" if form.uploading else "manifest_arn", str(exc))
        return None
    return forms.validate(form, f"arn:aws:s3:::{bucket}/{key}", etag, settings.threshold)


def _manifest_target(form: forms.JobForm, upload: Any) -> tuple[str, str]:
    if not form.uploading:
        return forms.manifest_location(form)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise forms.FormError("manifest_file", "choose a CSV file to upload as the manifest")
    bucket = form.get("upload_bucket")
    if not bucket:
        raise forms.FormError("upload_bucket", "give the bucket to upload the manifest to")
    name = upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return bucket, f"manifests/{uuid.uuid4().hex}-{name}"


async def _place_manifest(
    request: Request, form: forms.JobForm, account_id: str, bucket: str, key: str, upload: Any
) -> str:
    """The manifest's ETag, read (or uploaded) where the job's role will read it: its store, with its keys."""
    jobs = console_state(request).services.jobs
    role_arn = form.get("role_arn")
    try:
        jobs.require_role(account_id, role_arn)
        if not form.uploading:
            return form.get("manifest_etag") or await jobs.manifest_etag(account_id, role_arn, bucket, key)
        if not await _has_content(upload):
            raise forms.FormError("manifest_file", "the file is empty; a manifest lists one bucket,key per line")
        size = upload.size if upload.size is not None else UPLOAD_PART_BYTES + 1
        return await jobs.upload_manifest(account_id, role_arn, bucket, key, upload, size)
    except RoleNotDeclared as exc:
        raise forms.FormError("role_arn", str(exc)) from None


async def _has_content(upload: UploadFile) -> bool:
    """Whether the (spooled) file has anything but white space; read in blocks, then rewound for the upload."""
    try:
        while block := await upload.read(1024 * 1024):
            if block.strip():
                return True
        return False
    finally:
        await upload.seek(0)
