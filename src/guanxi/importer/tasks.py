"""The worker's customer-data jobs: imports and exports."""

from __future__ import annotations

from pathlib import Path

from guanxi.contact import exports
from guanxi.importer import service
from guanxi.worker.jobs import JobContext, handler


@handler("import", undoable=True)
def run_import(context: JobContext) -> str:
    return service.run(context, Path(context.payload["path"]))


@handler("export")
def run_export(context: JobContext) -> str:
    return exports.run(context, context.data_dir)
