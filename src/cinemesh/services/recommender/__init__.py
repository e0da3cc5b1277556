"""recommender: rows for a profile (top picks, because you watched X, trending), learned from viewing events."""
