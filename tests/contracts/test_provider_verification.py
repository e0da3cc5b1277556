"""Provider side: every pact the gateway committed in `tests/contracts/pacts/` holds against the
real provider service (one local platform of the providers, SQLite and the embedded NATS), each
interaction's provider state made for real through the service's API or the events it
consumes; and a pact asking for a field the provider does not give fails, naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.contracts.conftest import PACTS, pact_file
from tests.contracts.providers import (
    ProviderWorld,
    StateEndpoint,
    StateSetup,
    a_playable_title,
    a_profile_with_a_listed_title,
    a_refresh_token,
    a_session_is_playing,
    a_spare_profile,
    a_title_exists,
    a_title_is_indexed,
    an_account_exists,
    an_encode_job,
    an_experiment_runs,
    finished,
    part_way_through,
    part_way_through_an_episode,
    subtitles_exist,
    telemetry_knows_a_session,
)
from tests.contracts.test_gateway_consumer import (
    A_JOB_EXISTS,
    AN_EXPERIMENT_RUNS,
    BEACON_SESSION,
    FINISHED_ID,
    GENRE,
    GONE_ID,
    HOLDS_A_REFRESH_TOKEN,
    MEMBER_EMAIL,
    PLAYABLE_ID,
    PLAYING_SESSION,
    PROFILE_ID,
    SERIES_ID,
    SERIES_IS_THERE,
    STOPPING_SESSION,
    SUBTITLED_ID,
    TELEMETRY_KNOWS_THE_SESSION,
    TITLE_ID,
    TITLE_IS_THERE,
    source_upload,
    subtitle_upload,
)
from tests.support.backends import EmbeddedNats, make_backend
from tests.support.platform import LocalPlatform

# The demo catalog `cinemesh up` seeds stays: the recommender is ready (and has rows) only
# once it has trained on titles. No edge runs: playback offers this address, never fetched.
# The encoder encodes what the pact uploads (a second of 48x48 grey) in its cheapest preset.
PROVIDER_ENV = {
    "CINEMESH_DRAIN_S": "0",
    "CINEMESH_PLAYBACK_EDGE_URLS": '["http://127.0.0.1:9"]',
    "CINEMESH_ENCODER_PRESET": "ultrafast",
    "CINEMESH_ENCODER_VMAF_SUBSAMPLE": "10",
}
PROVIDERS = [
    "identity",
    "catalog",
    "profiles",
    "history",
    "search",
    "recommender",
    "playback",
    "telemetry",
    "experiments",
    "encoder",
]
STATES: dict[str, StateSetup] = {
    f"an account {MEMBER_EMAIL} exists": partial(an_account_exists, email=MEMBER_EMAIL),
    TITLE_IS_THERE: partial(a_title_exists, title_id=TITLE_ID, genre=GENRE),
    f"a title {TITLE_ID} in genre {GENRE} is indexed": partial(
        a_title_is_indexed, title_id=TITLE_ID, genre=GENRE
    ),
    f"a profile of the member with {TITLE_ID} in its list": partial(
        a_profile_with_a_listed_title, title_id=TITLE_ID
    ),
    f"a playable title {PLAYABLE_ID} and a profile of the member": partial(
        a_playable_title, title_id=PLAYABLE_ID
    ),
    f"session {PLAYING_SESSION} of the member is playing": partial(
        a_session_is_playing, session_id=PLAYING_SESSION, title_id=PLAYABLE_ID
    ),
    f"session {STOPPING_SESSION} of the member is playing": partial(
        a_session_is_playing, session_id=STOPPING_SESSION, title_id=PLAYABLE_ID
    ),
    f"profile {PROFILE_ID} is part-way through {TITLE_ID}": partial(
        part_way_through, profile_id=PROFILE_ID, title_id=TITLE_ID
    ),
    f"profile {PROFILE_ID} is part-way through {SERIES_ID}-s01e01": partial(
        part_way_through_an_episode,
        profile_id=PROFILE_ID,
        title_id=SERIES_ID,
        episode_id=f"{SERIES_ID}-s01e01",
    ),
    f"profile {PROFILE_ID} finished {FINISHED_ID}": partial(
        finished, profile_id=PROFILE_ID, title_id=FINISHED_ID
    ),
    f"a title {GONE_ID} in genre {GENRE} exists": partial(
        a_title_exists, title_id=GONE_ID, genre=GENRE
    ),
    SERIES_IS_THERE: partial(
        a_title_exists, title_id=SERIES_ID, genre=GENRE, episodes=["The First Promise"]
    ),
    "a spare profile of the member": a_spare_profile,
    HOLDS_A_REFRESH_TOKEN: a_refresh_token,
    TELEMETRY_KNOWS_THE_SESSION: partial(
        telemetry_knows_a_session, session_id=BEACON_SESSION, title_id=PLAYABLE_ID
    ),
    AN_EXPERIMENT_RUNS: partial(an_experiment_runs, profile_id=PROFILE_ID),
    A_JOB_EXISTS: partial(an_encode_job, title_id=TITLE_ID, upload=source_upload()),
    f"title {SUBTITLED_ID} has English subtitles": partial(
        subtitles_exist, title_id=SUBTITLED_ID, upload=subtitle_upload()
    ),
}


@pytest.fixture(scope="module")
def world(
    embedded_nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProviderWorld]:
    data_dir = tmp_path_factory.mktemp("contracts")
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    platform = LocalPlatform(
        data_dir, services=["registry", *PROVIDERS], env={**backend.env, **PROVIDER_ENV}
    ).start(timeout_s=240)  # eleven processes: on a busy CI machine, past the usual 120 s
    try:
        yield ProviderWorld(platform)
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def states(world: ProviderWorld) -> Iterator[StateEndpoint]:
    with StateEndpoint(world, STATES).serving() as endpoint:
        yield endpoint


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_honours_the_gateways_pact(
    provider: str, world: ProviderWorld, states: StateEndpoint
) -> None:
    verification = world.verify(provider, PACTS, states)
    assert verification.held, (
        f"{provider} breaks the gateway's pact:\n{verification.output}\n{states.failures}"
    )


@pytest.mark.parametrize(
    ("provider", "description"),
    [
        ("catalog", "a title's page"),
        ("telemetry", "a batch of play beacons"),
        ("experiments", "a profile's cells"),
        ("encoder", "an encode job's progress"),
    ],
)
def test_a_pact_asking_for_a_field_the_provider_does_not_give_fails_naming_it(
    provider: str,
    description: str,
    world: ProviderWorld,
    states: StateEndpoint,
    tmp_path: Path,
) -> None:
    """One of the gateway's pacts, edited to want a field its provider has never returned."""
    pact = json.loads(pact_file(PACTS, provider).read_text())
    wanted = next(i for i in pact["interactions"] if i["description"] == description)
    wanted["response"]["body"]["content"]["parental_guide"] = "mild peril"
    pact["interactions"] = [wanted]
    pact_file(tmp_path, provider).write_text(json.dumps(pact))

    verification = world.verify(provider, tmp_path, states)

    assert not verification.held
    assert "parental_guide" in verification.output, verification.output
