"""Where the processes of one server keep their metric values (prometheus-client's multiprocess mode): apart from
batchops.metrics because it must be chosen before prometheus-client is imported, which batchops.metrics does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The environment variable prometheus-client reads, at import, to keep values in files shared by processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir(directory: Path) -> None:
    """Keep the values of this process and of the processes it starts (they inherit the environment) in
    ``directory``, emptied first: values an earlier run left would be added to this one's."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))
