"""Where a job acts, and as whom: the one RoleArn → object-store resolver.

A job's RoleArn names the store (endpoint, region) and the keys its manifest, tasks and report use
(``Settings.role``). Everything that touches a job's objects resolves them here — the engine, CreateJob's
report check and the console (report files, manifest uploads) — so they all look in the same store with the
same keys. An account's API keys sign requests to batchops; they are store keys only when a role says so.
"""

from __future__ import annotations

from batchops.errors import ManifestError
from batchops.s3.client import StoreCredentials
from batchops.settings import Settings


def resolve(settings: Settings, account_id: str, role_arn: str) -> StoreCredentials | None:
    """The store and keys of this account's RoleArn (defaults filled in); None if the role is not declared."""
    role = settings.role(account_id, role_arn)
    if role is None:
        return None
    return StoreCredentials(
        role.endpoint, role.region or settings.s3_region, role.access_key_id, role.secret_access_key
    )


def credentials_for(settings: Settings, account_id: str, role_arn: str) -> StoreCredentials:
    """The store and keys of an existing job's RoleArn; ManifestError ``RoleNotDeclared`` once the role is gone
    from the config file (the job was created with it, so it was declared then)."""
    creds = resolve(settings, account_id, role_arn)
    if creds is None:
        raise ManifestError(
            "RoleNotDeclared",
            f"RoleArn {role_arn} is no longer declared for account {account_id} in the "
            "server's config file; declare it again and create the job again",
        )
    return creds
