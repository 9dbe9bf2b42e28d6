"""The risk engine's entry point for money events. Today a pass-through strategy that allows every
event and records the decision before any money moves; rules, features and scores come later behind
the same :func:`screen` call."""
