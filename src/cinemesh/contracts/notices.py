"""Notices: plain NATS messages naming what changed, sent after a commit and never stored
(`EventBus.notify`). Each body is a JSON list of profile ids (for `RECOMMENDER_MODEL_CHANGED`,
the new model's version). Whoever keeps a copy of what they name forgets it (platform/kept.py):
the owning service's instances, and the gateway, which keeps what a home page asked for."""

from __future__ import annotations

MY_LIST_CHANGED = "profiles.list.changed"  # profiles: a profile's My List changed
POSITIONS_CHANGED = "history.positions.changed"  # history: a profile's positions changed
RECOMMENDER_HISTORIES_CHANGED = "recommender.profiles.changed"  # what a profile's rows use
RECOMMENDER_MODEL_CHANGED = "recommender.model.changed"  # an instance serves a new model
