"""The worker's e-invoice sweep: sync and reward every bound carrier whose last sync is older than
``EARNLOOP_EINVOICE_SYNC_INTERVAL_S``, one carrier per transaction.

Per carrier: claim it (a guarded UPDATE, so concurrent workers never sync one carrier twice in an
interval), ask the platform outside any write transaction (:func:`service.collect`), then write the
receipts and their rewards in one short transaction. A platform failure (down, wrong verification code,
undecryptable code) is recorded on the carrier by the sync itself; any other error on one carrier rolls
its transaction back, is recorded on the carrier as ``internal error (<type>)`` and logged, and the sweep
goes on with the others. A failed carrier is tried again once it is due again.

The platform and the cipher are built from the settings as the API builds them: the configured
``EARNLOOP_EINVOICE_API_URL``, else (development) the fake served by ``earnloop serve`` at
``/fake-einvoice`` — reached over HTTP at ``EARNLOOP_HOST``:``EARNLOOP_PORT``, as the worker reaches the
fake payout provider. When that fake does not answer (``earnloop serve`` is not running there), the
sweep says so and leaves every carrier due, instead of recording a platform failure on each of them and
waiting a whole interval. Production without a platform URL leaves the sweep off, like the API's routes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog

from earnloop.config import Settings
from earnloop.db.engine import Database
from earnloop.einvoice import rewards, service
from earnloop.einvoice.cipher import CodeCipher, cipher_from_settings
from earnloop.einvoice.source import INV_SERV_PATH, EInvoiceSource, source_from_settings
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import RiskEngine

SWEEP_BATCH = 100
FAKE_PROBE_TIMEOUT_S = 2.0
NS_PER_S = 1_000_000_000

log = structlog.get_logger("earnloop.einvoice")


@dataclass
class SweepReport:
    """What one sweep did: carriers ``synced`` (ok) or ``failed``, receipts ``credited``/``reversed``."""

    synced: int = 0
    failed: int = 0
    credited: int = 0
    reversed: int = 0

    @property
    def attempted(self) -> int:
        return self.synced + self.failed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class CarrierSweep:
    """The platform, the cipher of stored codes and how often each carrier is synced."""

    source: EInvoiceSource
    cipher: CodeCipher
    interval_s: int
    served_fake_url: str | None = None  # development: the fake platform served by ``earnloop serve``

    @classmethod
    def from_settings(cls, settings: Settings) -> CarrierSweep | None:
        """``None`` when e-invoice is off (production without ``EARNLOOP_EINVOICE_API_URL``); raises
        :class:`~earnloop.einvoice.errors.EInvoiceConfigError` when production lacks its keys."""
        if settings.environment == "production" and not settings.einvoice_api_url:
            return None
        source = source_from_settings(settings)
        return cls(
            source=source,
            cipher=cipher_from_settings(settings),
            interval_s=settings.einvoice_sync_interval_s,
            served_fake_url=None if settings.einvoice_api_url else source.base_url,
        )

    def run(self, db: Database, ledger: LedgerService, risk: RiskEngine) -> SweepReport:
        """Sync every due carrier once, in id order, one batch of ids at a time (``risk`` screens the
        rewards)."""
        report = SweepReport()
        if self.served_fake_url is not None and not _answers(self.served_fake_url):
            log.warning(
                "einvoice_fake_platform_unreachable",
                url=self.served_fake_url,
                hint="development: the fake e-invoice platform is served by `earnloop serve`; run it with "
                "the same EARNLOOP_HOST/EARNLOOP_PORT, or set EARNLOOP_EINVOICE_API_URL",
            )
            return report  # every carrier stays due
        cutoff_ns = ledger.clock.now_ns() - self.interval_s * NS_PER_S
        after_id = 0
        while True:
            with db.uow(write=False) as conn:
                batch = service.due_carrier_ids(conn, cutoff_ns, after_id=after_id, limit=SWEEP_BATCH)
            for carrier_id in batch:
                self._sync(db, ledger, carrier_id, cutoff_ns, report, risk)
            if len(batch) < SWEEP_BATCH:
                return report
            after_id = batch[-1]

    def _sync(
        self,
        db: Database,
        ledger: LedgerService,
        carrier_id: int,
        cutoff_ns: int,
        report: SweepReport,
        risk: RiskEngine,
    ) -> None:
        now_ns = ledger.clock.now_ns()
        with db.uow() as conn:
            if not service.claim_for_sync(conn, carrier_id, cutoff_ns, now_ns):
                return  # another worker took it, or the user synced it meanwhile
        try:
            result = self._sync_claimed(db, ledger, carrier_id, now_ns, risk)
        except Exception as exc:  # one carrier's failure must not stop the sweep
            log.exception("einvoice_sync_failed", carrier_id=carrier_id)
            with db.uow() as conn:
                service.record_sync_error(conn, carrier_id, f"internal error ({type(exc).__name__})", now_ns)
            report.failed += 1
            return
        if result["status"] != "ok":
            log.warning("einvoice_sync_error", carrier_id=carrier_id, error=result["error"])
            report.failed += 1
            return
        report.synced += 1
        report.credited += result["rewards"]["credited"]
        report.reversed += result["rewards"]["reversed"]

    def _sync_claimed(
        self, db: Database, ledger: LedgerService, carrier_id: int, now_ns: int, risk: RiskEngine
    ) -> dict[str, Any]:
        with db.uow(write=False) as conn:
            plan = service.collect(conn, self.source, self.cipher, carrier_id, service.taipei_today(now_ns))
        with db.uow() as conn:
            result = service.apply_sync(conn, plan, now_ns)
            result["rewards"] = rewards.reward_receipts(conn, ledger, result, risk=risk)
        return result

    def close(self) -> None:
        """Close the platform client (an HTTP connection pool)."""
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def _answers(base_url: str) -> bool:
    """Whether anything answers HTTP at the platform's endpoint (an unsigned call: refused, but heard)."""
    try:
        httpx.post(base_url + INV_SERV_PATH, data={}, timeout=FAKE_PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return True
