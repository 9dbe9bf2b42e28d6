"""Cashback: rewards credited pending, confirmed after their lock period, reversed or clawed back."""
