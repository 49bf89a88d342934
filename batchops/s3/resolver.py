"""Where a job acts, and as whom: the one RoleArn → object-store resolver.

A job's RoleArn names the store (endpoint, region) and the keys its manifest, tasks and report use
(``Settings.role``). Everything that touches a job's objects resolves them here — the engine, CreateJob's
report check and the console (report files, manifest uploads) — so they all look in the same store with the
same keys. An account's API keys sign requests to batchops; they are store keys only when a role says so.
``check_role`` is the one rule that a new job's RoleArn must be declared (CreateJob and the console's form).
"""

from __future__ import annotations

from batchops.errors import ManifestError, RoleNotDeclared
from batchops.s3.client import StoreCredentials
from batchops.settings import Settings


def check_role(settings: Settings, account_id: str, role_arn: str) -> None:
    """CreateJob: the RoleArn must be one the account declared (any, for the default account)."""
    if settings.role(account_id, role_arn) is not None:
        return
    account = settings.account(account_id)
    declared = ", ".join(r.arn for r in account.roles) if account else ""
    raise RoleNotDeclared(
        f"RoleArn {role_arn} is not declared for account {account_id}; use one of its roles "
        f"({declared or 'none declared'}) or declare it under [[accounts.roles]] in the server's config file",
        field="RoleArn",
    )


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
