"""The app's server fixtures (``site``) for the credit pages' tests."""

from tests.integration.web.conftest import site, site_settings  # noqa: F401
