"""The whole schema: imports every domain's tables onto the one ``MetaData`` (``db/metadata.py``), for the
faces that need them all (``earnloop secrets rotate`` finds every sealed column; tests empty every
table). On its own floor, above the simulator whose labels it registers, since it imports every domain;
``db/`` imports none (ADR 0022). Add a line per models module."""

from earnloop.affiliate import models as affiliate_models
from earnloop.auth import models as auth_models
from earnloop.catalog import models as catalog_models
from earnloop.credit import models as credit_models
from earnloop.einvoice import models as einvoice_models
from earnloop.idempotency import models as idempotency_models
from earnloop.ledger import models as ledger_models
from earnloop.outbox import models as outbox_models
from earnloop.risk import list_models as risk_list_models
from earnloop.risk import models as risk_models
from earnloop.risk import phone_models as risk_phone_models
from earnloop.risk.strategies import models as strategy_models
from earnloop.sim import models as sim_models
from earnloop.tracking import models as tracking_models
from earnloop.wallet import models as wallet_models
from earnloop.wallet.cashback import models as cashback_models
from earnloop.wallet.credit_line import models as credit_line_models
from earnloop.wallet.donations import models as donation_models
from earnloop.wallet.escrow import models as escrow_models
from earnloop.wallet.fx import models as fx_models
from earnloop.wallet.holds import models as hold_models
from earnloop.wallet.pay import models as pay_models
from earnloop.wallet.withdrawals import models as withdrawal_models

MODEL_MODULES = [
    auth_models,
    idempotency_models,
    ledger_models,
    outbox_models,
    wallet_models,
    cashback_models,
]
MODEL_MODULES.extend([escrow_models, hold_models])
MODEL_MODULES.extend([fx_models, pay_models])
MODEL_MODULES.extend([withdrawal_models, donation_models])
MODEL_MODULES.append(einvoice_models)
MODEL_MODULES.append(catalog_models)
MODEL_MODULES.append(tracking_models)
MODEL_MODULES.append(affiliate_models)
MODEL_MODULES.append(risk_models)
MODEL_MODULES.extend([risk_list_models, risk_phone_models])
MODEL_MODULES.append(strategy_models)
MODEL_MODULES.append(sim_models)
MODEL_MODULES.append(credit_line_models)
MODEL_MODULES.append(credit_models)
