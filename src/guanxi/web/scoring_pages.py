"""Console pages for scoring models."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
