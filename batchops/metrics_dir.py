"""Where the processes of one server keep their metric values (prometheus-client's multiprocess mode): apart from
batchops.metrics because it must be chosen before prometheus-client is imported, which batchops.metrics does."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: The environment variable prometheus-client reads, at import, to keep values in files shared by processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Where the servers of this machine keep them, one directory per server: in the temporary directory ($TMPDIR), not
#: the data dir. The files are memory-mapped: on a full disk a write to one kills the process (SIGBUS), and a full
#: data dir is a fault the server must ride out (tests/integration/test_disk_full.py).
METRICS_PARENT = Path(tempfile.gettempdir()) / "batchops-metrics"


def use_multiprocess_dir(parent: Path) -> Path:
    """Keep the values of this process and of the processes it starts (they inherit the environment) in a new
    directory of ``parent`` named after this process; those an earlier run left are removed (their values would
    not be this run's), unless their server still runs (another server on the same data dir keeps its own)."""
    for earlier in parent.glob("*"):
        if earlier.is_dir() and not _running(earlier.name):
            shutil.rmtree(earlier, ignore_errors=True)
    directory = parent / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def _running(name: str) -> bool:
    if not name.isdigit():
        return False
    try:
        os.kill(int(name), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))
