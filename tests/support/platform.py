"""The local platform runner lives in the package (benchmarks use it too)."""

from cinemesh.runner.local import LocalPlatform

__all__ = ["LocalPlatform"]
