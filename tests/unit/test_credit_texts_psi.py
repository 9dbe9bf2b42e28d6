"""Every reason the feature catalogue and the privileges can show is in the app's catalog list (so it is
translated); PSI is 0 for the training distribution itself and alerts on a shifted one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from earnloop.credit.features import FEATURES
from earnloop.credit.monitor import ALERT, psi_report, reference_bins
from earnloop.credit.privileges import DEFAULT_BANDS
from earnloop.web.pages.credit import CREDIT_TEXTS


def test_every_reason_and_privilege_is_listed_for_translation() -> None:
    shown = {f.good for f in FEATURES} | {f.bad for f in FEATURES}
    shown |= {text for band in DEFAULT_BANDS for text in band.unlocked()}
    assert shown <= set(CREDIT_TEXTS)


def test_psi_is_zero_on_the_training_data_and_alerts_on_a_shift() -> None:
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"balance": rng.exponential(1_000, 5_000), "age": rng.uniform(0, 400, 5_000)})
    scores = list(rng.integers(350, 950, 5_000))
    bins = reference_bins(rows, scores)
    same = {d.name: d for d in psi_report(bins, rows, scores)}
    assert list(same) == ["score", "balance", "age"]
    assert all(d.psi < 1e-6 and not d.alert for d in same.values())
    shifted = rows.assign(balance=rows.balance * 4)
    drift = {d.name: d for d in psi_report(bins, shifted, scores)}
    assert drift["balance"].psi > ALERT
    assert drift["balance"].alert
    assert not drift["age"].alert
