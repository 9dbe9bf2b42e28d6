"""The whole schema: imports every domain's tables onto the one ``MetaData`` (``db/metadata.py``), for the
faces that need them all (``earnloop secrets rotate`` finds every sealed column; tests empty every
table). On the faces' floor, since it imports every domain; ``db/`` imports none (ADR 0022). Add a line
per models module."""

from earnloop.affiliate import models as affiliate_models
from earnloop.auth import models as auth_models
from earnloop.catalog import models as catalog_models
from earnloop.einvoice import models as einvoice_models
from earnloop.idempotency import models as idempotency_models
from earnloop.ledger import models as ledger_models
from earnloop.outbox import models as outbox_models
from earnloop.risk import models as risk_models
from earnloop.tracking import models as tracking_models
from earnloop.wallet import escrow_models as escrow_models
from earnloop.wallet import fx_models as fx_models
from earnloop.wallet import models as wallet_models
from earnloop.wallet import pay_models as pay_models
from earnloop.wallet import withdrawal_models as withdrawal_models

MODEL_MODULES = [auth_models, idempotency_models, ledger_models, outbox_models, wallet_models]
MODEL_MODULES.append(escrow_models)
MODEL_MODULES.extend([fx_models, pay_models])
MODEL_MODULES.append(withdrawal_models)
MODEL_MODULES.append(einvoice_models)
MODEL_MODULES.append(catalog_models)
MODEL_MODULES.append(tracking_models)
MODEL_MODULES.append(affiliate_models)
MODEL_MODULES.append(risk_models)
