"""Console pages for lifecycle."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
