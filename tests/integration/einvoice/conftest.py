"""The fake platform, its HTTP client and a cipher, shared by the e-invoice test modules."""

from tests.integration.einvoice.test_einvoice import cipher, platform, source

__all__ = ["cipher", "platform", "source"]
