"""Catalog errors (:class:`earnloop.errors.DomainError`: HTTP status + slug), so routers and the CLI handle
them alike. Each derives from ``DomainError`` directly: ``except CatalogError`` (invalid catalog data)
catches neither a missing row, a conflict, a reached cap nor an exceeded budget."""

from __future__ import annotations

from dataclasses import dataclass

from earnloop.errors import DomainError


class CatalogError(DomainError):
    status = 422
    slug = "catalog-invalid"
    title = "Invalid catalog data"


class CatalogNotFoundError(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class CatalogConflictError(DomainError):
    status = 409
    slug = "catalog-conflict"
    title = "Conflicts with the catalog"


class CapReachedError(DomainError):
    status = 409
    slug = "cap-reached"
    title = "Per-user limit reached"


class BudgetExceededError(DomainError):
    status = 422
    slug = "budget-exceeded"
    title = "Campaign budget exceeded"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (CSV: line after the header; JSON: item index + 1)
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "message": self.message}


class ImportRejectedError(CatalogError):
    """The file had invalid rows: nothing was imported."""

    slug = "catalog-import-rejected"
    title = "Catalog import rejected"

    def __init__(self, errors: list[RowError]) -> None:
        first = "; ".join(f"row {e.row} {e.field}: {e.message}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} invalid row(s), nothing imported: {first}{more}")
        self.errors = errors
