"""A stored scoring model as the pure arithmetic sees it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from guanxi.models import ScoreModel
from guanxi.scoring.decay import DEFAULT_GRADES, ScoreSpec


def spec_of(model: ScoreModel) -> ScoreSpec:
    return ScoreSpec(
        decay=model.decay,
        days=model.decay_days,
        epoch=model.epoch,
        weights={str(k): float(v) for k, v in (model.weights or {}).items()},
        grades={k: float(v) for k, v in (model.grades or DEFAULT_GRADES).items()},
    )


def models(session: Session, workspace_id: int) -> Sequence[ScoreModel]:
    return session.scalars(
        select(ScoreModel).where(ScoreModel.workspace_id == workspace_id).order_by(ScoreModel.id)
    ).all()


def specs(session: Session, workspace_id: int) -> dict[str, ScoreSpec]:
    return {str(m.id): spec_of(m) for m in models(session, workspace_id)}
