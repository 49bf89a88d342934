"""``make run``: a local SeaweedFS with demo buckets, objects and a manifest, and batchops serving it."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3

from batchops.devstore import LocalSeaweed
from batchops.listening import ensure_port_free
from batchops.server import serve
from batchops.settings import load_settings

DEMO_OBJECTS = 300
SOURCE, TARGET, REPORTS, MANIFESTS = "demo-source", "demo-target", "demo-reports", "demo-manifests"
MANIFEST_KEY = "manifests/demo.csv"
#: What the demo writes into its data dir for a second terminal to source (the README's walk-through does).
ENV_FILE = "demo.env"


def run_demo(data_dir: Path, port: int, log_format: str = "text") -> None:
    settings = load_settings(flags={"data_dir": data_dir / "batchops", "port": port, "log_format": log_format})
    ensure_port_free(settings.host, settings.port, suggestion="--port {port} (make run PORT={port})")
    account = settings.accounts[0]
    access_key = account.access_key_id or "batchops-demo"
    secret_key = account.secret_access_key or "batchops-demo-secret"
    store = LocalSeaweed(data_dir / "seaweed", access_key, secret_key).start()
    # uvicorn re-raises a SIGTERM after its graceful shutdown; with Python's default action the process would die
    # there, before ``finally`` stops SeaweedFS (left running, orphaned). This handler turns it into an exit.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    env_file = data_dir / ENV_FILE
    try:
        etag = seed(store.endpoint, access_key, secret_key)
        accounts = (replace(account, access_key_id=access_key, secret_access_key=secret_key),)
        settings = replace(settings, s3_endpoint=store.endpoint, accounts=accounts)
        url = f"http://127.0.0.1:{settings.port}"
        env_file.write_text(environment(url, store.endpoint, account.id, access_key, secret_key))
        banner = instructions(settings.port, store.endpoint, account.id, access_key, secret_key, etag, env_file)
        print(banner, flush=True)
        serve(settings)
    finally:
        env_file.unlink(missing_ok=True)  # a stale file would point the next terminal at a demo that is gone
        store.stop()


def environment(url: str, endpoint: str, account: str, access_key: str, secret_key: str) -> str:
    """The demo's ``demo.env``: what ``batchops job``, boto3 and the AWS CLI read, and this batchops on PATH."""
    variables = {
        "BATCHOPS_URL": url,
        "BATCHOPS_ACCOUNT_ID": account,
        "BATCHOPS_S3_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    lines = [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    # The venv's bin directory (make run's .venv/bin): `batchops` works without activating the venv.
    lines.append(f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"')
    header = "# Written by `batchops demo` (make run) while it serves; removed when it stops. Use: . <this file>\n"
    return header + "\n".join(lines) + "\n"


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _s3(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )


def seed(endpoint: str, access_key: str, secret_key: str) -> str:
    """Create the demo buckets, objects and manifest (idempotent); returns the manifest's ETag."""
    s3 = _s3(endpoint, access_key, secret_key)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in (SOURCE, TARGET, REPORTS, MANIFESTS):
        if bucket not in existing:
            _retry(lambda b=bucket: s3.create_bucket(Bucket=b))
    keys = [f"photos/{i:04d}.txt" for i in range(DEMO_OBJECTS)]
    for key in keys:
        s3.put_object(Bucket=SOURCE, Key=key, Body=f"demo object {key}\n".encode())
    manifest = "".join(f"{SOURCE},{key}\n" for key in keys).encode()
    return str(s3.put_object(Bucket=MANIFESTS, Key=MANIFEST_KEY, Body=manifest)["ETag"])


def _retry(call: Any, attempts: int = 20) -> None:
    # A store that has just started may refuse the first writes while its volumes come up.
    for attempt in range(attempts):
        try:
            call()
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def instructions(
    port: int, endpoint: str, account: str, access_key: str, secret_key: str, etag: str, env_file: Path
) -> str:
    url = f"http://127.0.0.1:{port}"
    env = os.environ.get
    return f"""
batchops is serving the S3 Control job API on {url}
Demo store (SeaweedFS): {endpoint}  buckets {SOURCE} ({DEMO_OBJECTS} objects), {TARGET}, {REPORTS}, {MANIFESTS}
Demo manifest: arn:aws:s3:::{MANIFESTS}/{MANIFEST_KEY}  ETag {etag}

Credentials: AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} (account {account})

Console: {url}/console/  (sign in with the access key id and secret above)

Command line (in another terminal, in this directory; README.md "Command line" walks through more):
    . {env_file}    # the server, the store, the keys and batchops on PATH
    batchops job create --manifest-arn arn:aws:s3:::{MANIFESTS}/{MANIFEST_KEY} --put-object-tag demo=yes \\
        --no-confirmation-required
    batchops job list

boto3 (batchops.boto3_hook strips the account id boto3 puts in the host name, and adds our extensions):
    import boto3, batchops
    session = boto3.Session(aws_access_key_id="{access_key}", aws_secret_access_key="{secret_key}",
                            region_name="us-east-1")
    s3control = batchops.boto3_hook(session).client("s3control", endpoint_url="{url}")
    s3control.list_jobs(AccountId="{account}")

AWS CLI v1 (installed next to batchops: .venv/bin/pip install awscli), with the batchops plugin:
    aws configure set plugins.batchops batchops.awscli_plugin
    AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} aws s3control list-jobs \\
        --account-id {account} --endpoint-url {url} --region us-east-1
{"" if env("CI") else "Stop with Ctrl+C."}
"""
