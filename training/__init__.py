"""Data loading, training loops, monitoring and evaluation (no Qt)."""
