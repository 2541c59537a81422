"""The paging parameters every list route shares, and the answer with ``X-Total-Count``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter

from core.domain.marketplace import MAX_PAGE_SIZE, MAX_SKIP, Page, PageResult

TOTAL_HEADER = "X-Total-Count"

# The cap is checked by core (Page), so a deeper skip is a 400 naming `skip`, not a generic 422.
Skip = Annotated[int, Parameter(ge=0, description=f"Rows to skip, at most {MAX_SKIP} (400 beyond)")]
Limit = Annotated[int, Parameter(ge=1, description=f"Page size; values above {MAX_PAGE_SIZE} are capped")]
TOTAL = [ResponseHeader(name=TOTAL_HEADER, description="Matches before paging", documentation_only=True)]


def page(skip: int, limit: int) -> Page:
    return Page(skip, min(limit, MAX_PAGE_SIZE))


def listing(result: PageResult[Any], items: list[Any]) -> Response[list[Any]]:
    return Response(items, headers={TOTAL_HEADER: str(result.total)})
