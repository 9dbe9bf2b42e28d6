"""One module per postback provider (its verifier, the event mapping of its callback), and what they
share (`base.py`). The registry of verifiers is :mod:`earnloop.tracking.verifiers`."""
