"""The console against abuse, over plain HTTP(S) to a real server: guessed passwords, copied cookies, rotated
credentials, HTTPS, and a large manifest upload (its memory read from ``/proc/<pid>/status``)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re
import socket
import textwrap
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.jobs import describe, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

# The console's edge (throttling, HTTPS, uploads, trickled bodies) on SQLite; its sessions, kept in the job
# store, on every job database (BOTH below).
pytestmark = pytest.mark.job_databases("sqlite", reason="the console's edge: no job reaches the store")
BOTH = pytest.mark.job_databases("sqlite", "postgresql")

MIB = 1024 * 1024

def console(server: Server, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/console", follow_redirects=False, timeout=60, **kwargs)

def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)

def try_login(client: httpx.Client, identity: str, secret: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"identity": identity, "secret": secret, "csrf_token": token})

def signed_in(server: Server, identity: str = ACCESS_KEY, secret: str = SECRET_KEY, **kwargs: Any) -> httpx.Client:
    client = console(server, **kwargs)
    answer = try_login(client, identity, secret)
    assert answer.status_code == 303, answer.text
    return client

def sees_jobs(client: httpx.Client) -> bool:
    answer = client.get("/jobs")
    if answer.status_code == 303:
        assert answer.headers["location"].endswith("/console/login")
        return False
    assert answer.status_code == 200, answer.text
    return True

def server_log(server: Server) -> str:
    return (server.data_dir / "server.log").read_text(errors="replace")

# --- item 8: sign-in throttling -----------------------------------------------------------------------------

def test_wrong_passwords_are_throttled_logged_and_the_right_one_works_after_the_delay(start_server: Any) -> None:
    server = start_server(env={"BATCHOPS_LOGIN_DELAY_SECONDS": "2"})
    client = console(server)
    answers = [try_login(client, ACCESS_KEY, f"guess-{n}") for n in range(20)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    refused = try_login(client, ACCESS_KEY, SECRET_KEY)  # the right secret, too early
    assert refused.status_code == 429
    assert re.search(r"Too many failed sign-ins .* Try again in [12] s\.", refused.text), refused.text
    assert refused.headers["retry-after"] in ("1", "2")
    assert not sees_jobs(client)
    log = server_log(server)
    assert log.count("console sign-in failed: wrong credentials") == 5
    # Refusals are reported, with their number, at most every 10 s: a flood of guesses is no flood of log lines.
    assert log.count("console sign-in refused: too many failed attempts (1 refused; latest identity") == 1
    assert "WARNING" in log and "guess-" not in log and SECRET_KEY not in log  # who and from where, no secrets
    wait_for(lambda: try_login(client, ACCESS_KEY, SECRET_KEY).status_code == 303, timeout=10, what="the delay")
    assert sees_jobs(client)

# --- item 9: sessions end at logout and when credentials change; HTTPS ---------------------------------------

@BOTH
def test_a_copied_cookie_stops_working_at_logout(server: Server) -> None:
    owner = signed_in(server)
    thief = console(server, cookies=dict(owner.cookies))
    assert sees_jobs(thief)
    token = csrf_of(owner.get("/jobs").text)
    assert owner.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not sees_jobs(thief)
    assert not sees_jobs(owner)

def accounts_config(path: Path, password: str, secret: str) -> Path:
    path.write_text(
        textwrap.dedent(
            f"""
            [[accounts]]
            id = "{ACCOUNT}"
            access_key_id = "{ACCESS_KEY}"
            secret_access_key = "{secret}"
            console_password = "{password}"
            """
        )
    )
    return path

@BOTH
def test_sessions_survive_a_restart_but_not_a_credential_change(start_server: Any, tmp_path: Path) -> None:
    config = accounts_config(tmp_path / "accounts.toml", "first-password", SECRET_KEY)
    server = start_server("--config", str(config))
    copied = dict(signed_in(server, ACCOUNT, "first-password").cookies)
    server.stop()
    server.start()
    assert sees_jobs(console(server, cookies=copied)), "a restart alone must not end sessions"
    server.stop()
    accounts_config(config, "second-password", "rotated-secret")
    server.start()
    assert not sees_jobs(console(server, cookies=copied))
    assert sees_jobs(signed_in(server, ACCOUNT, "second-password"))

@BOTH
def test_only_the_password_changed_ends_the_session_too(start_server: Any, tmp_path: Path) -> None:
    config = accounts_config(tmp_path / "accounts.toml", "first-password", SECRET_KEY)
    server = start_server("--config", str(config))
    copied = dict(signed_in(server, ACCESS_KEY, SECRET_KEY).cookies)
    server.stop()
    accounts_config(config, "second-password", SECRET_KEY)
    server.start()
    assert not sees_jobs(console(server, cookies=copied))

def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path

def test_https_with_a_certificate_and_a_secure_cookie(start_server: Any, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://")
    assert httpx.get(f"{server.url}/healthz", verify=str(cert)).json() == {"status": "ok", "role": "leader"}
    client = console(server, verify=str(cert))
    answer = try_login(client, ACCESS_KEY, SECRET_KEY)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "batchops_console=" in cookie and "; secure" in cookie, cookie
    assert sees_jobs(client)
    control = server.client()  # boto3 over HTTPS, trusting the test's certificate
    control._endpoint.http_session._verify = str(cert)
    assert "Jobs" in control.list_jobs(AccountId=ACCOUNT)

# --- item 10: a large manifest upload is streamed to the store -------------------------------------------------

def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")

def large_manifest(path: Path, bucket: str, mib: int) -> str:
    """A CSV manifest of ``mib`` MiB in 64-byte rows; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for block in range(mib):
            rows = b"".join(_row(bucket, block * ROWS_PER_MIB + n) for n in range(ROWS_PER_MIB))
            handle.write(rows)
            digest.update(rows)
    return digest.hexdigest()


ROWS_PER_MIB = MIB // 64


def _row(bucket: str, n: int) -> bytes:
    row = f"{bucket},k{n:09d}-".encode()
    return row + b"x" * (63 - len(row)) + b"\n"

def upload_through_the_form(server: Server, s3: Any, bucket: str, path: Path) -> tuple[str, int]:
    """Create a job from the console's form with ``path`` uploaded; (job id, server RSS growth in KiB)."""
    client = signed_in(server)
    token = csrf_of(client.get("/jobs/new").text)
    assert server.process is not None
    pid = server.process.pid
    before = status_kib(pid, "VmRSS")
    fields = {
        "csrf_token": token,
        "client_request_token": str(uuid.uuid4()),
        "manifest_source": "upload",
        "upload_bucket": bucket,
        "manifest_fields": "Bucket,Key",
        "operation": "S3DeleteObjectTagging",
        "priority": "10",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batchops",
        "confirmation_required": "on",
    }
    with path.open("rb") as handle:
        answer = client.post("/jobs/new", data=fields, files={"manifest_file": ("big.csv", handle, "text/csv")})
    growth = status_kib(pid, "VmHWM") - before
    assert answer.status_code == 303, answer.text[:2000]
    return answer.headers["location"].rsplit("/", 1)[-1], growth

def check_upload(start_server: Any, s3: Any, new_bucket: Any, tmp_path: Path, mib: int, bound_mib: int) -> None:
    server = start_server()
    bucket = new_bucket()
    path = tmp_path / "big.csv"
    digest = large_manifest(path, bucket, mib)
    job_id, growth_kib = upload_through_the_form(server, s3, bucket, path)
    print(f"console upload of {mib} MiB: server RSS peak grew {growth_kib / 1024:.1f} MiB")
    assert growth_kib < bound_mib * 1024, f"a {mib} MiB upload raised the server's RSS by {growth_kib / 1024:.0f} MiB"
    job = wait_status(server.client(), job_id, "Suspended")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == mib * ROWS_PER_MIB
    arn = describe(server.client(), job_id)["Manifest"]["Location"]["ObjectArn"]
    key = arn.split(":::", 1)[1].split("/", 1)[1]
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == digest

def test_a_50_mib_upload_is_streamed_to_the_store(start_server: Any, s3: Any, new_bucket: Any, tmp_path: Path) -> None:
    check_upload(start_server, s3, new_bucket, tmp_path, 50, bound_mib=48)

@pytest.mark.soak
def test_soak_a_200_mib_upload_is_streamed(start_server: Any, s3: Any, new_bucket: Any, tmp_path: Path) -> None:
    check_upload(start_server, s3, new_bucket, tmp_path, 200, bound_mib=64)

def test_an_upload_cut_off_mid_way_is_no_error(server: Server) -> None:
    client = signed_in(server)
    token = csrf_of(client.get("/jobs/new").text)
    boundary = "cut-off-upload"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"manifest_file\"; filename=\"m.csv\"\r\n\r\n"
    ).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        request = (
            f"POST /console/jobs/new HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nCookie: {cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(head) + 10 * MIB}\r\n\r\n"
        ).encode()
        sock.sendall(request + head + b"b,k\n" * 1000)
    wait_for(lambda: "went away" in server_log(server), timeout=10, what="the server to see the client leave")
    log = server_log(server)
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]


# --- slow or oversized sign-in bodies from anyone --------------------------------------------------------------


def test_a_sign_in_body_trickled_a_byte_at_a_time_is_cut_off(start_server: Any) -> None:
    server = start_server(env={"BATCHOPS_BODY_TIMEOUT_SECONDS": "1"})
    head = (
        f"POST /console/login HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)  # the pace of the trickle: one byte, then up to 0.2 s listening for the server
        ended, sent = None, 0
        while ended is None and sent < 60:  # 60 bytes in about 12 s, unless the server ends it first
            try:
                sock.sendall(b"x")
                sent += 1
                ended = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                ended = b""
    assert ended is not None, "a body trickled at 5 bytes a second holds its connection for ever"
    assert sent < 25, f"the trickle went on for {sent} bytes (~{sent * 0.2:.0f} s)"


def test_a_sign_in_that_is_not_a_small_url_encoded_form_is_refused_unread(server: Server) -> None:
    client = console(server)
    token = csrf_of(client.get("/login").text)
    files = {"identity": (None, ACCESS_KEY), "secret": (None, SECRET_KEY), "csrf_token": (None, token)}
    multipart = client.post("/login", files={**files, "blob": ("x.bin", b"\0" * 100_000)})
    large = client.post("/login", data={"identity": ACCESS_KEY, "secret": "x" * 20_000, "csrf_token": token})
    for answer in (multipart, large):
        assert answer.status_code == 400
        assert "URL-encoded form of at most 16384 bytes" in answer.text
    assert try_login(client, ACCESS_KEY, SECRET_KEY).status_code == 303
