"""Routes for scoring: models and their rules, a contact's and an account's scores, the points
ledger, and the editor's preview."""

from __future__ import annotations

from fastapi import APIRouter, Response

from guanxi.http.deps import DB, Actor, Listing
from guanxi.http.errors import errors
from guanxi.kit.clock import utcnow
from guanxi.kit.page import Page
from guanxi.kit.schema import Id
from guanxi.scoring import scores, service
from guanxi.scoring.schemas import (
    AccountScoreOut,
    ModelIn,
    ModelOut,
    PointOut,
    PreviewIn,
    PreviewOut,
    RuleIn,
    RuleOut,
    ScoreOut,
)

router = APIRouter(tags=["scoring"])


@router.get("/scoring/models", response_model=list[ModelOut])
def list_models(actor: Actor, session: DB) -> list[ModelOut]:
    return [ModelOut.model_validate(m) for m in service.list_models(session, actor)]


@router.post("/scoring/models", response_model=ModelOut, status_code=201, responses=errors(404))
def create_model(data: ModelIn, actor: Actor, session: DB) -> ModelOut:
    """A scoring model. Several may run side by side (engagement, fit, product interest …); a
    combined model weighs others into one score (404 when a weight names an unknown model)."""
    return ModelOut.model_validate(service.create_model(session, actor, data, utcnow()))


@router.get("/scoring/models/{model_id}", response_model=ModelOut)
def get_model(model_id: Id, actor: Actor, session: DB) -> ModelOut:
    return ModelOut.model_validate(service.get_model(session, actor, model_id))


@router.put("/scoring/models/{model_id}", response_model=ModelOut)
def update_model(model_id: Id, data: ModelIn, actor: Actor, session: DB) -> ModelOut:
    """Changing the decay re-scores everyone in the model (a job)."""
    return ModelOut.model_validate(service.update_model(session, actor, model_id, data, utcnow()))


@router.delete("/scoring/models/{model_id}", status_code=204)
def delete_model(model_id: Id, actor: Actor, session: DB) -> Response:
    """Refused (409 ``scoring_model_in_use``) while a combined model weighs it or a rule, a
    segment or a lifecycle stage reads its score."""
    service.delete_model(session, actor, model_id)
    return Response(status_code=204)


@router.get("/scoring/models/{model_id}/rules", response_model=list[RuleOut])
def list_rules(model_id: Id, actor: Actor, session: DB) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in service.list_rules(session, actor, model_id)]


@router.post("/scoring/models/{model_id}/rules", response_model=RuleOut, status_code=201)
def create_rule(model_id: Id, data: RuleIn, actor: Actor, session: DB) -> RuleOut:
    """A rule of a points model; the model's contacts are re-scored by a job."""
    return RuleOut.model_validate(service.create_rule(session, actor, model_id, data, utcnow()))


@router.put("/scoring/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: Id, data: RuleIn, actor: Actor, session: DB) -> RuleOut:
    return RuleOut.model_validate(service.update_rule(session, actor, rule_id, data))


@router.delete("/scoring/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: Id, actor: Actor, session: DB) -> Response:
    service.delete_rule(session, actor, rule_id)
    return Response(status_code=204)


@router.post("/scoring/models/{model_id}/preview", response_model=PreviewOut)
def preview(model_id: Id, data: PreviewIn, actor: Actor, session: DB) -> PreviewOut:
    """What would this contact score under these rules? Its events are replayed in memory
    under the rules given (or the saved ones); nothing is written."""
    return PreviewOut.model_validate(scores.preview(session, actor, model_id, data, utcnow()))


@router.get("/contacts/{contact_id}/scores", response_model=list[ScoreOut])
def contact_scores(contact_id: Id, actor: Actor, session: DB) -> list[ScoreOut]:
    """The contact's score now in every model: engagement (after decay), fit, and fit grade."""
    return [
        ScoreOut.model_validate(s)
        for s in scores.contact_scores(session, actor, contact_id, utcnow())
    ]


@router.get("/contacts/{contact_id}/scores/{model_id}/points", response_model=Page[PointOut])
def ledger(
    contact_id: Id, model_id: Id, listing: Listing, actor: Actor, session: DB
) -> Page[PointOut]:
    """The score's history: every point earned or lost, newest first, and its worth now."""
    rows, cursor = scores.ledger(
        session, actor, contact_id, model_id, utcnow(), listing.limit, listing.cursor
    )
    return Page(items=[PointOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/accounts/{account_id}/scores", response_model=list[AccountScoreOut])
def account_scores(account_id: Id, actor: Actor, session: DB) -> list[AccountScoreOut]:
    """The account's score in every model: its contacts' rolled up, plus account fit."""
    return [
        AccountScoreOut.model_validate(s)
        for s in scores.account_scores(session, actor, account_id, utcnow())
    ]
