from tests.playback.fixtures import hls_package, media_platform

__all__ = ["hls_package", "media_platform"]
