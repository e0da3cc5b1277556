"""encoder: ingest of source videos and the media pipeline that turns each into an adaptive
HLS package (a per-title ladder measured with VMAF), run by workers on a JetStream queue."""
