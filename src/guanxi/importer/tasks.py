"""The worker's import job."""

from __future__ import annotations

from pathlib import Path

from guanxi.importer import service
from guanxi.worker.jobs import JobContext, handler


@handler("import")
def run_import(context: JobContext) -> str:
    return service.run(context, Path(context.payload["path"]))
