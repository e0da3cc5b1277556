"""Accounts through the gateway: sign-up, sign-in, password rules and changes, admins, and
the throttle against password guessing (per email and per address, across instances)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.backends import Backend
from tests.support.outbox import published_events
from tests.support.platform import LocalPlatform
from tests.support.users import admin, login, sign_up


def post(
    platform: LocalPlatform, path: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(f"{platform.gateway}/api/v1{path}", json=body, headers=headers, timeout=30)


def me(platform: LocalPlatform, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{platform.gateway}/api/v1/auth/me", headers=headers, timeout=10)


def direct_login(
    platform: LocalPlatform, instance: int, email: str, password: str, address: str
) -> httpx.Response:
    """Sign in at one identity instance, as the gateway would for a user at `address`."""
    return httpx.post(
        platform.url_of("identity", instance) + "/v1/sessions",
        json={"email": email, "password": password},
        headers={**platform.headers, "X-Cinemesh-Client-Address": address},
        timeout=30,
    )


def fresh_email() -> str:
    return f"a-{uuid.uuid4().hex[:12]}@example.com"


def test_signup_is_201_with_the_account_and_its_plan(platform: LocalPlatform) -> None:
    email = fresh_email()
    created = post(
        platform, "/auth/signup", {"email": email, "password": "Good-pass-123", "plan": "standard"}
    )
    assert created.status_code == 201
    account = created.json()
    assert account["email"] == email and account["role"] == "member"
    assert (account["plan"], account["streams"], account["max_height"]) == ("standard", 2, 1080)
    assert not {"password", "password_hash"} & set(account)
    member = login(platform, email.upper(), "Good-pass-123")
    assert me(platform, member.access_token).json()["id"] == account["id"]


def test_login_answers_tokens(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    response = post(platform, "/auth/login", {"email": member.email, "password": member.password})
    body = response.json()
    assert response.status_code == 200 and body["expires_in"] == 900
    assert body["access_token"].count(".") == 2 and len(body["refresh_token"]) >= 32


@pytest.mark.parametrize("who", ["member", "stranger"])
def test_wrong_password_or_unknown_email_is_the_same_401(platform: LocalPlatform, who: str) -> None:
    email = sign_up(platform, profile=None).email if who == "member" else fresh_email()
    response = post(platform, "/auth/login", {"email": email, "password": "Not-the-password-9"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_duplicate_email_is_409(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    again = post(
        platform, "/auth/signup", {"email": member.email.upper(), "password": "Another-pass-77"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1!", "at least 10 characters"),
        ("onlyletterslong", "digit or symbol"),
        ("aaaaaaaaaa1", "5 different characters"),
        ("x" * 257 + "1", "at most 256"),
        ("my-wonderland-2024", "must not contain your email"),
    ],
)
def test_weak_password_is_422_naming_the_rule(
    platform: LocalPlatform, password: str, rule: str
) -> None:
    email = f"wonderland@{uuid.uuid4().hex[:6]}.example.com"
    response = post(platform, "/auth/signup", {"email": email, "password": password})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "WEAK_PASSWORD" and rule in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"email": "not-an-email", "password": "Valid-pass-12"},
        {"email": "a@example.com", "password": "Valid-pass-12", "plan": "gold"},
        {"email": "a@example.com", "password": 12345678901},
        {"email": "a@example.com", "password": ""},
    ],
)
def test_malformed_signup_is_422_in_the_envelope(platform: LocalPlatform, body: object) -> None:
    response = post(platform, "/auth/signup", body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


def test_password_change(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    new = "Brand-new-pass-42"
    wrong = {"old_password": "Not-my-password-1", "new_password": new}
    assert post(platform, "/auth/password", wrong, member.headers).status_code == 401
    weak = {"old_password": member.password, "new_password": "weak"}
    weak_response = post(platform, "/auth/password", weak, member.headers)
    assert weak_response.status_code == 422
    assert weak_response.json()["error"]["code"] == "WEAK_PASSWORD"
    body = {"old_password": member.password, "new_password": new}
    assert post(platform, "/auth/password", body).status_code == 401, "needs a signed-in user"
    assert post(platform, "/auth/password", body, member.headers).status_code == 204
    old = post(platform, "/auth/login", {"email": member.email, "password": member.password})
    assert old.status_code == 401
    assert login(platform, member.email, new).access_token
    refreshed = post(platform, "/auth/refresh", {"refresh_token": member.refresh_token})
    assert refreshed.status_code == 401, "a password change signs out every refresh token"


def test_account_events_go_out_through_the_outbox(
    platform: LocalPlatform, module_backend: Backend
) -> None:
    member = sign_up(platform, profile=None)
    account_id = me(platform, member.access_token).json()["id"]
    body = {"old_password": member.password, "new_password": "Other-pass-4242"}
    assert post(platform, "/auth/password", body, member.headers).status_code == 204
    types = published_events(
        module_backend,
        platform.data_dir,
        "identity",
        want="identity.account.password_changed",
        mentioning=account_id,
    )
    assert {"identity.account.created", "identity.account.password_changed"} <= set(types)


def test_admin_from_the_cli(platform: LocalPlatform) -> None:
    boss = admin(platform)
    assert me(platform, boss.access_token).json()["role"] == "admin"
    weak = platform.cli("users", "create-admin", "--email", "x@example.com", "--password", "weak")
    assert weak.returncode == 1 and "WEAK_PASSWORD" in weak.stdout


def test_create_admin_promotes_a_member_only_with_their_password(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    other = platform.cli(
        "users", "create-admin", "--email", member.email, "--password", "Someone-else-99"
    )
    assert other.returncode == 1 and "EMAIL_TAKEN" in other.stdout
    assert me(platform, login(platform, member.email, member.password).access_token).json()[
        "role"
    ] == ("member")
    promoted = platform.cli(
        "users", "create-admin", "--email", member.email, "--password", member.password
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    token = login(platform, member.email, member.password).access_token
    assert me(platform, token).json()["role"] == "admin"


def test_repeated_failures_lock_the_email_across_instances(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    codes = [
        direct_login(platform, n % 2, member.email, f"Wrong-pass-{n}", "198.51.100.1").status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429], "both instances count into the same database"
    locked = post(platform, "/auth/login", {"email": member.email, "password": member.password})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "ACCOUNT_LOCKED"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60


def test_an_unknown_email_locks_the_same_way(platform: LocalPlatform) -> None:
    """Otherwise the lockout would tell who has an account."""
    email = fresh_email()
    codes = [
        direct_login(platform, 0, email, f"Wrong-pass-{n}", "198.51.100.2").status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_a_right_password_clears_earlier_failures(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    for round_ in range(3):
        for n in range(4):
            assert (
                direct_login(platform, 1, member.email, f"Wrong-{round_}-{n}-x", "198.51.100.3")
            ).status_code == 401
        assert login(platform, member.email, member.password).access_token


def test_parallel_guesses_cannot_slip_past_the_limit(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)

    def guess(n: int) -> int:
        return direct_login(
            platform, n % 2, member.email, f"Parallel-guess-{n}", "198.51.100.4"
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(guess, range(16)))
    assert codes.count(401) <= 5 and codes.count(429) >= 11, codes


def test_one_address_guessing_many_emails_is_throttled(platform: LocalPlatform) -> None:
    address = f"203.0.113.{uuid.uuid4().int % 250}"
    codes = [
        direct_login(platform, n % 2, fresh_email(), "Guess-pass-123", address).status_code
        for n in range(31)
    ]
    assert codes == [401] * 30 + [429]
    blocked = direct_login(platform, 0, fresh_email(), "Guess-pass-123", address)
    assert blocked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert int(blocked.headers["retry-after"]) > 0
    member = sign_up(platform, profile=None)
    elsewhere = direct_login(platform, 0, member.email, member.password, "192.0.2.77")
    assert elsewhere.status_code == 200, "other addresses are not affected"
