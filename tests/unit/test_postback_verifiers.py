"""Postback verifiers: pure functions, no database.

Signatures are computed here independently (hashlib/hmac written out), not with the module's helpers,
so that a wrong concatenation in the module cannot be mirrored by the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnloop.tracking import (
    PostbackRejected,
    PostbackVerifier,
    RawPostback,
    ReasonCode,
    sign_generic,
    verifier_for,
)
from earnloop.tracking.verifiers import (
    AppsFlyerPushVerifier,
    AyetStudiosVerifier,
    GenericVerifier,
    TapjoyVerifier,
)

NOW = 1_750_000_000
OLD, NEW = "old-secret-0123456789", "new-secret-9876543210"


def raw(
    *,
    method: str = "GET",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    ip: str = "203.0.113.7",
) -> RawPostback:
    return RawPostback(method, "/postbacks/x", query, headers or {}, body, ip)


def rejected(
    verifier: PostbackVerifier, request: RawPostback, secrets: list[str], now: int = NOW
) -> ReasonCode:
    with pytest.raises(PostbackRejected) as info:
        verifier.verify(request, secrets, now)
    return info.value.reason_code


# ------------------------------------------------------------------------------------------ generic


def generic_body(**fields: object) -> bytes:
    data: dict[str, object] = {
        "transaction_id": "tx-1",
        "click_id": "clk-1",
        "event": "signup",
        "amount": "2.50",
    }
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def generic_request(body: bytes, secret: str = NEW, t: int = NOW) -> RawPostback:
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign_generic(secret, body, t) == f"t={t},v1={expected}"
    return raw(method="POST", headers={"earnloop-signature": f"t={t},v1={expected}"}, body=body)


class TestGeneric:
    verifier = GenericVerifier()

    def test_valid(self) -> None:
        result = self.verifier.verify(generic_request(generic_body()), [NEW], NOW)
        assert (result.provider, result.transaction_id, result.click_id, result.event_key) == (
            "earnloop",
            "tx-1",
            "clk-1",
            "signup",
        )
        assert result.reported_amount == Decimal("2.50")
        assert not result.is_reversal
        assert {"t", "transaction_id", "click_id", "event", "amount"} <= result.signed_fields
        assert json.loads(self.verifier.success_body()) == {"status": "ok"}

    def test_forged_with_wrong_secret(self) -> None:
        assert rejected(self.verifier, generic_request(generic_body(), secret="attacker"), [NEW]) == (
            ReasonCode.BAD_SIGNATURE
        )

    def test_tampered_body(self) -> None:
        request = generic_request(generic_body())
        tampered = raw(method="POST", headers=dict(request.headers), body=generic_body(amount="250.00"))
        assert rejected(self.verifier, tampered, [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_re_serialised_body_is_rejected(self) -> None:
        request = generic_request(b'{"transaction_id": "tx-1", "click_id": "c", "event": "e"}')
        compact = json.dumps(json.loads(request.body), separators=(",", ":")).encode()
        assert rejected(
            self.verifier, raw(method="POST", headers=dict(request.headers), body=compact), [NEW]
        ) == (ReasonCode.BAD_SIGNATURE)

    def test_replayed_but_stale(self) -> None:
        request = generic_request(generic_body(), t=NOW)
        assert self.verifier.verify(request, [NEW], NOW + 300).transaction_id == "tx-1"  # edge: accepted
        assert rejected(self.verifier, request, [NEW], now=NOW + 301) == ReasonCode.STALE_TIMESTAMP

    def test_expired_and_future_timestamps(self) -> None:
        assert rejected(self.verifier, generic_request(generic_body(), t=NOW - 3600), [NEW]) == (
            ReasonCode.STALE_TIMESTAMP
        )
        assert rejected(self.verifier, generic_request(generic_body(), t=NOW + 301), [NEW]) == (
            ReasonCode.STALE_TIMESTAMP
        )

    def test_forged_stale_request_says_bad_signature(self) -> None:
        assert rejected(self.verifier, generic_request(generic_body(), secret="x", t=NOW - 3600), [NEW]) == (
            ReasonCode.BAD_SIGNATURE
        )

    @pytest.mark.parametrize(
        "header",
        [
            "",
            "garbage",
            "t=abc,v1=" + "0" * 64,
            "v1=" + "0" * 64,
            f"t={NOW}",
            f"t={NOW},v1=XYZ",
            f"t={NOW},t=1",
        ],
    )
    def test_malformed_header(self, header: str) -> None:
        request = raw(method="POST", headers={"Earnloop-Signature": header}, body=generic_body())
        assert rejected(self.verifier, request, [NEW]) == ReasonCode.MALFORMED

    def test_missing_header(self) -> None:
        assert (
            rejected(self.verifier, raw(method="POST", body=generic_body()), [NEW])
            == ReasonCode.BAD_SIGNATURE
        )

    def test_signed_but_not_json(self) -> None:
        assert rejected(self.verifier, generic_request(b"not json"), [NEW]) == ReasonCode.MALFORMED
        assert rejected(self.verifier, generic_request(b"[1, 2]"), [NEW]) == ReasonCode.MALFORMED
        assert (
            rejected(self.verifier, generic_request(generic_body(amount="NaN")), [NEW])
            == ReasonCode.MALFORMED
        )

    def test_missing_transaction_id(self) -> None:
        request = generic_request(generic_body(transaction_id=None))
        assert rejected(self.verifier, request, [NEW]) == ReasonCode.MISSING_FIELD

    def test_rotation_with_two_secrets(self) -> None:
        for secret in (OLD, NEW):
            assert self.verifier.verify(generic_request(generic_body(), secret=secret), [NEW, OLD], NOW)
        assert rejected(self.verifier, generic_request(generic_body(), secret=OLD), [NEW]) == (
            ReasonCode.BAD_SIGNATURE
        )
        # a sender that signs with both secrets during its own rotation: either v1 may match
        body = generic_body()
        both = f"{sign_generic(NEW, body, NOW)},v1={sign_generic(OLD, body, NOW).split('v1=')[1]}"
        assert self.verifier.verify(
            raw(method="POST", headers={"Earnloop-Signature": both}, body=body), [OLD], NOW
        )

    def test_reversals(self) -> None:
        flagged = self.verifier.verify(
            generic_request(
                generic_body(transaction_id="tx-2", reversal=True, reverses_transaction_id="tx-1")
            ),
            [NEW],
            NOW,
        )
        assert flagged.is_reversal
        assert flagged.reverses_transaction_id == "tx-1"
        negative = self.verifier.verify(generic_request(generic_body(amount="-2.50")), [NEW], NOW)
        assert negative.is_reversal
        assert negative.reported_amount == Decimal("-2.50")
        # A reversal reusing the conversion's own id would be answered as that conversion's duplicate.
        reused = generic_body(transaction_id="tx-1", reversal=True, reverses_transaction_id="tx-1")
        assert rejected(self.verifier, generic_request(reused), [NEW]) == ReasonCode.MALFORMED

    def test_no_secret_is_a_configuration_error(self) -> None:
        with pytest.raises(ValueError, match="no active secret"):
            self.verifier.verify(generic_request(generic_body()), [], NOW)

    @given(data=st.data())
    def test_any_single_byte_change_is_rejected(self, data: st.DataObject) -> None:
        body = generic_body(click_id=data.draw(st.text(min_size=1, max_size=30), label="click_id"))
        request = generic_request(body)
        index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
        new_byte = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index]))
        changed = body[:index] + bytes([new_byte]) + body[index + 1 :]
        tampered = raw(method="POST", headers=dict(request.headers), body=changed)
        assert rejected(self.verifier, tampered, [NEW, OLD]) == ReasonCode.BAD_SIGNATURE


# ------------------------------------------------------------------------------------------ Tapjoy


def tapjoy_query(
    secret: str = NEW, *, tx: str | None = "req-1", snuid: str = "clk-1", currency: str = "50", **extra: str
) -> str:
    params = {"snuid": snuid, "currency": currency, "mac_address": "00-16-41-34-2C-A6"}
    if tx is not None:
        params["id"] = tx
    params["verifier"] = hashlib.md5(f"{tx}:{snuid}:{currency}:{secret}".encode()).hexdigest()
    params.update(extra)
    return urlencode(params)


class TestTapjoy:
    verifier = TapjoyVerifier()

    def test_valid(self) -> None:
        result = self.verifier.verify(raw(query=tapjoy_query(snuid="u 1@x")), [NEW], NOW)
        assert (result.provider, result.transaction_id, result.click_id) == ("tapjoy", "req-1", "u 1@x")
        assert result.reported_amount == Decimal(50)
        assert not result.is_reversal
        assert result.signed_fields == frozenset({"id", "snuid", "currency"})
        assert self.verifier.success_body() == b""

    def test_forged_with_wrong_secret(self) -> None:
        assert rejected(self.verifier, raw(query=tapjoy_query("attacker")), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_tampered_parameter(self) -> None:
        query = tapjoy_query().replace("currency=50", "currency=5000")
        assert rejected(self.verifier, raw(query=query), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_parameter_pollution_is_malformed(self) -> None:
        assert (
            rejected(self.verifier, raw(query=tapjoy_query() + "&currency=5000"), [NEW])
            == ReasonCode.MALFORMED
        )

    @pytest.mark.parametrize("query", ["snuid", "a=%ff", "&&"])
    def test_malformed_query(self, query: str) -> None:
        assert rejected(self.verifier, raw(query=query), [NEW]) == ReasonCode.MALFORMED

    def test_signed_non_numeric_amount_is_malformed(self) -> None:
        assert (
            rejected(self.verifier, raw(query=tapjoy_query(currency="lots")), [NEW]) == ReasonCode.MALFORMED
        )

    def test_missing_transaction_id(self) -> None:
        assert rejected(self.verifier, raw(query=tapjoy_query(tx=None)), [NEW]) == ReasonCode.MISSING_FIELD

    def test_missing_verifier(self) -> None:
        query = urlencode({"id": "req-1", "snuid": "clk-1", "currency": "50"})
        assert rejected(self.verifier, raw(query=query), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_rotation_with_two_secrets(self) -> None:
        assert self.verifier.verify(raw(query=tapjoy_query(OLD)), [NEW, OLD], NOW)
        assert self.verifier.verify(raw(query=tapjoy_query(NEW)), [NEW, OLD], NOW)
        assert rejected(self.verifier, raw(query=tapjoy_query(OLD)), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_negative_currency_is_a_reversal(self) -> None:
        result = self.verifier.verify(raw(query=tapjoy_query(currency="-50")), [NEW], NOW)
        assert result.is_reversal
        assert result.reported_amount == Decimal(-50)

    def test_unsigned_extra_parameters_are_not_reported_as_signed(self) -> None:
        result = self.verifier.verify(raw(query=tapjoy_query(pub0="anything")), [NEW], NOW)
        assert "pub0" not in result.signed_fields
        assert "mac_address" not in result.signed_fields


# ------------------------------------------------------------------------------------ ayeT-Studios

AYET_IP = "158.69.185.134"


def ayet_request(
    params: dict[str, str] | None = None, secret: str = NEW, ip: str = AYET_IP, query: str | None = None
) -> RawPostback:
    values = {
        "network": "ayetstudios",
        "transaction_id": "381f9933",
        "external_identifier": "clk-1",
        "currency_amount": "360",
        "payout_usd": "0.36",
        "is_chargeback": "0",
        "offer_id": "4711",
    }
    values.update(params or {})
    values = {k: v for k, v in values.items() if v != "<drop>"}
    # what ayeT's PHP does: ksort($_GET); http_build_query(...) (urlencode: space as '+', '~' as %7E)
    canonical = "&".join(
        f"{k}={urlencode({'': v})[1:].replace('~', '%7E')}" for k, v in sorted(values.items())
    )
    signature = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    # the request itself arrives in any order and with any (valid) percent-encoding
    sent = query if query is not None else "&".join(f"{k}={v.replace(' ', '%20')}" for k, v in values.items())
    return raw(query=sent, headers={"X-Ayetstudios-Security-Hash": signature}, ip=ip)


class TestAyetStudios:
    verifier = AyetStudiosVerifier()

    def test_valid(self) -> None:
        result = self.verifier.verify(ayet_request(), [NEW], NOW)
        assert (result.provider, result.transaction_id, result.click_id, result.event_key) == (
            "ayetstudios",
            "381f9933",
            "clk-1",
            "4711",
        )
        assert result.reported_amount == Decimal(360)
        assert not result.is_reversal
        assert result.signed_fields == frozenset(
            {"network", "transaction_id", "external_identifier", "currency_amount", "payout_usd"}
            | {"is_chargeback", "offer_id"}
        )

    def test_canonicalisation_of_special_characters(self) -> None:
        result = self.verifier.verify(ayet_request({"external_identifier": "a b~c@d.e/f"}), [NEW], NOW)
        assert result.click_id == "a b~c@d.e/f"

    def test_forged_with_wrong_secret(self) -> None:
        assert rejected(self.verifier, ayet_request(secret="attacker"), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_tampered_parameter(self) -> None:
        request = ayet_request()
        query = request.query_string.replace("currency_amount=360", "currency_amount=36000")
        tampered = raw(query=query, headers=dict(request.headers), ip=AYET_IP)
        assert rejected(self.verifier, tampered, [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_added_parameter_breaks_the_signature(self) -> None:
        request = ayet_request()
        tampered = raw(query=request.query_string + "&bonus=1", headers=dict(request.headers), ip=AYET_IP)
        assert rejected(self.verifier, tampered, [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_wrong_ip(self) -> None:
        assert rejected(self.verifier, ayet_request(ip="203.0.113.7"), [NEW]) == ReasonCode.IP_NOT_ALLOWED
        assert rejected(self.verifier, ayet_request(ip="not-an-ip"), [NEW]) == ReasonCode.IP_NOT_ALLOWED
        assert self.verifier.verify(ayet_request(ip=f"::ffff:{AYET_IP}"), [NEW], NOW)

    def test_ip_check_can_be_disabled(self) -> None:
        assert AyetStudiosVerifier(allowed_networks=()).verify(ayet_request(ip="203.0.113.7"), [NEW], NOW)

    @pytest.mark.parametrize("query", ["transaction_id", "a[]=1&b=2", "a.b=1", "x=%zz%ff"])
    def test_malformed_query(self, query: str) -> None:
        assert rejected(self.verifier, ayet_request(query=query), [NEW]) == ReasonCode.MALFORMED

    def test_bad_chargeback_flag(self) -> None:
        assert rejected(self.verifier, ayet_request({"is_chargeback": "yes"}), [NEW]) == ReasonCode.MALFORMED

    def test_missing_transaction_id(self) -> None:
        request = ayet_request({"transaction_id": "<drop>"})
        assert rejected(self.verifier, request, [NEW]) == ReasonCode.MISSING_FIELD

    def test_missing_header(self) -> None:
        request = ayet_request()
        assert rejected(self.verifier, raw(query=request.query_string, ip=AYET_IP), [NEW]) == (
            ReasonCode.BAD_SIGNATURE
        )

    def test_rotation_with_two_secrets(self) -> None:
        assert self.verifier.verify(ayet_request(secret=OLD), [NEW, OLD], NOW)
        assert self.verifier.verify(ayet_request(secret=NEW), [NEW, OLD], NOW)
        assert rejected(self.verifier, ayet_request(secret=OLD), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_chargeback_is_a_reversal(self) -> None:
        result = self.verifier.verify(
            ayet_request({"transaction_id": "r-381f9933", "is_chargeback": "1", "currency_amount": "-360"}),
            [NEW],
            NOW,
        )
        assert result.is_reversal
        assert result.transaction_id == "r-381f9933"
        assert result.reverses_transaction_id == "381f9933"
        assert result.reported_amount == Decimal(-360)


# ---------------------------------------------------------------------------------------- AppsFlyer

AF_IP = "45.92.117.10"
TOKENS = [NEW]


def af_request(
    ip: str = AF_IP,
    token: str | None = NEW,
    method: str = "POST",
    header: str = "Authorization",
    **fields: object,
) -> RawPostback:
    data: dict[str, object] = {
        "appsflyer_id": "1600000000000-1234567",
        "app_id": "com.example.game",
        "event_name": "af_purchase",
        "event_time": "2025-06-15 12:00:00.000",
        "event_revenue": "9.99",
        "af_sub1": "clk-1",
    }
    data.update(fields)
    body = json.dumps({k: v for k, v in data.items() if v is not None}).encode()
    headers = {} if token is None else {header: token}
    return raw(method=method, body=body, headers=headers, ip=ip)


class TestAppsFlyer:
    verifier = AppsFlyerPushVerifier()

    def test_valid(self) -> None:
        result = self.verifier.verify(af_request(), TOKENS, NOW)
        assert result.provider == "appsflyer"
        assert result.transaction_id == "1600000000000-1234567:af_purchase:2025-06-15 12:00:00.000"
        assert (result.click_id, result.event_key) == ("clk-1", "af_purchase")
        assert result.reported_amount == Decimal("9.99")
        assert not result.is_reversal
        assert result.signed_fields == frozenset()  # nothing is signed
        assert (result.app_id, result.rejected_reason) == ("com.example.game", None)

    def test_no_token_configured_is_our_configuration_error(self) -> None:
        with pytest.raises(ValueError, match="no active secret"):
            self.verifier.verify(af_request(), [], NOW)
        with pytest.raises(ValueError, match="no active secret"):
            self.verifier.verify(af_request(token=None), [""], NOW)

    def test_forged_with_wrong_token(self) -> None:
        assert rejected(self.verifier, af_request(token="attacker"), [NEW]) == ReasonCode.BAD_SIGNATURE
        assert rejected(self.verifier, af_request(token=None), [NEW]) == ReasonCode.BAD_SIGNATURE
        # The token in another header than the configured one is not the token.
        other = af_request(header="X-Earnloop-Push-Token")
        assert rejected(self.verifier, other, [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_configured_token_header(self) -> None:
        custom = AppsFlyerPushVerifier(token_header="X-Af-Token")
        assert custom.verify(af_request(header="x-af-token"), TOKENS, NOW)
        assert rejected(custom, af_request(), TOKENS) == ReasonCode.BAD_SIGNATURE

    def test_wrong_ip(self) -> None:
        for ip in ("203.0.113.7", "45.92.120.1", "194.28.48.1", "2001:db8::1", ""):
            assert rejected(self.verifier, af_request(ip=ip), TOKENS) == ReasonCode.IP_NOT_ALLOWED
        for ip in ("45.92.116.0", "45.92.119.255", "194.28.47.200", "::ffff:194.28.46.1"):
            assert self.verifier.verify(af_request(ip=ip), TOKENS, NOW)

    def test_wrong_ip_wins_over_a_correct_token(self) -> None:
        assert (
            rejected(self.verifier, af_request(ip="203.0.113.7", token=NEW), [NEW])
            == ReasonCode.IP_NOT_ALLOWED
        )

    def test_malformed(self) -> None:
        ok = {"Authorization": NEW}
        assert rejected(self.verifier, raw(method="POST", body=b"{", ip=AF_IP, headers=ok), TOKENS) == (
            ReasonCode.MALFORMED
        )
        assert rejected(self.verifier, raw(method="POST", body=b"[]", ip=AF_IP, headers=ok), TOKENS) == (
            ReasonCode.MALFORMED
        )
        assert rejected(self.verifier, af_request(method="GET"), TOKENS) == ReasonCode.MALFORMED
        assert rejected(self.verifier, af_request(event_revenue="9,99"), TOKENS) == ReasonCode.MALFORMED
        assert rejected(self.verifier, af_request(event_revenue=True), TOKENS) == ReasonCode.MALFORMED
        assert rejected(self.verifier, af_request(is_rejected="maybe"), TOKENS) == ReasonCode.MALFORMED
        assert rejected(self.verifier, af_request(is_rejected=[1]), TOKENS) == ReasonCode.MALFORMED
        assert rejected(self.verifier, af_request(reject_reason=7), TOKENS) == ReasonCode.MALFORMED

    def test_missing_transaction_id(self) -> None:
        assert rejected(self.verifier, af_request(appsflyer_id=None), TOKENS) == ReasonCode.MISSING_FIELD
        assert rejected(self.verifier, af_request(af_sub1=None), TOKENS) == ReasonCode.MISSING_FIELD
        assert rejected(self.verifier, af_request(app_id=None), TOKENS) == ReasonCode.MISSING_FIELD

    def test_rotation_with_two_tokens(self) -> None:
        assert self.verifier.verify(af_request(token=OLD), [NEW, OLD], NOW)
        assert self.verifier.verify(af_request(token=NEW), [NEW, OLD], NOW)
        assert rejected(self.verifier, af_request(token=OLD), [NEW]) == ReasonCode.BAD_SIGNATURE

    def test_negative_revenue_is_a_reversal(self) -> None:
        result = self.verifier.verify(
            af_request(event_revenue=-9.99), TOKENS, NOW
        )  # JSON number, read exactly
        assert result.is_reversal
        assert result.reported_amount == Decimal("-9.99")

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"is_rejected": True}, "rejected"),
            ({"is_rejected": "1"}, "rejected"),
            ({"is_rejected": "true", "reject_reason": "bots"}, "bots"),
            ({"reject_reason": "ctit_anomalies"}, "ctit_anomalies"),
            ({"is_rejected": False}, None),
            ({"is_rejected": "0", "reject_reason": ""}, None),
        ],
    )
    def test_rejected_installs_and_events(self, fields: dict[str, object], reason: str | None) -> None:
        assert self.verifier.verify(af_request(**fields), TOKENS, NOW).rejected_reason == reason


# ----------------------------------------------------------------------------------------- registry


def test_registry() -> None:
    for name, cls in [
        ("earnloop", GenericVerifier),
        ("tapjoy", TapjoyVerifier),
        ("ayetstudios", AyetStudiosVerifier),
        ("appsflyer", AppsFlyerPushVerifier),
    ]:
        verifier = verifier_for(name)
        assert isinstance(verifier, cls)
        assert isinstance(verifier, PostbackVerifier)
        assert verifier.name == name
        assert isinstance(verifier.success_body(), bytes)
    with pytest.raises(PostbackRejected) as info:
        verifier_for("nope")
    assert info.value.reason_code == ReasonCode.UNKNOWN_PROVIDER
