"""Catalog errors: wallet-style errors (HTTP status + slug), so routers and the CLI handle them alike."""

from __future__ import annotations

from dataclasses import dataclass

from earnloop.wallet.errors import NotFoundError, StateConflictError, WalletError


class CatalogError(WalletError):
    status = 422
    slug = "catalog-invalid"
    title = "Invalid catalog data"


class CatalogNotFoundError(NotFoundError):
    pass


class CatalogConflictError(StateConflictError):
    slug = "catalog-conflict"
    title = "Conflicts with the catalog"


class CapReachedError(WalletError):
    status = 409
    slug = "cap-reached"
    title = "Per-user limit reached"


class BudgetExceededError(WalletError):
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
