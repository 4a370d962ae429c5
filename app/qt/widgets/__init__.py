"""Reusable widgets that know nothing about the explorer's state."""
