"""Export jobs: a filtered contact list written to a CSV or XLSX file by the worker, for sets
too large to stream to a browser; the file is then downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from guanxi.auth.principal import Principal
from guanxi.auth.service import principal_for
from guanxi.contact import export
from guanxi.errors import Conflict, NotFound
from guanxi.i18n import N_
from guanxi.models import Job
from guanxi.worker import jobs
from guanxi.workspace import members


class ExportNotReady(Conflict):
    code = "export_not_ready"
    message = N_("The export is not finished yet.")


def start(session: Session, actor: Principal, fmt: str, filters: dict[str, Any]) -> Job:
    actor.require("contacts:read")
    payload = {"format": fmt, "filters": filters}
    return jobs.enqueue(session, actor.workspace_id, "export", payload, actor.user_id)


def get(session: Session, actor: Principal, job_id: int) -> Job:
    actor.require("contacts:read")
    job = session.get(Job, (actor.workspace_id, job_id))
    if job is None or job.kind != "export" or job.created_by != actor.user_id:
        raise NotFound(resource=N_("Export"))
    return job


def file_of(session: Session, actor: Principal, job_id: int) -> tuple[Path, str]:
    job = get(session, actor, job_id)
    if job.status != "done":
        raise ExportNotReady()
    return Path(job.progress["path"]), job.payload["format"]


def export_dir(data_dir: Path, workspace_id: int) -> Path:
    path = data_dir / "exports" / str(workspace_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(context: jobs.JobContext, data_dir: Path) -> str:
    """The worker's export: as the member who asked (their data scope applies), page by page."""
    from guanxi.db import transaction

    with transaction(context.factory) as session:
        job = session.get(Job, (context.workspace_id, context.job_id))
        assert job is not None
        membership = members.active_membership(session, context.workspace_id, job.created_by or 0)
        if membership is None:
            raise RuntimeError("the member who asked for the export is no longer active")
        actor = principal_for(membership)
    fmt = context.payload["format"]
    path = export_dir(data_dir, context.workspace_id) / f"{context.job_id}.{fmt}"
    filters = {
        "q": None,
        "owner_id": None,
        "stage": None,
        "source": None,
        "account_id": None,
        "segment_id": None,
        "status": "active",
        "custom": {},
        **context.payload["filters"],
    }
    rows = export.write_file(
        context.factory, actor, filters, path, fmt, lambda n: context.checkpoint({"rows": n})
    )
    context.progress = {"rows": rows, "path": str(path)}
    return "done"
