"""OpenAPI links: where an id an operation answers with goes next. A client generated from the
document (and schemathesis' stateful phase) chains real calls with them: the profile just
made is the one whose list is read, the session just started is the one that beats.

A route names its links in its decorator, as in
`responses=links(201, profile_uses("$response.body#/id"))`; targets are written
"METHOD /path" and become JSON pointers into the document's paths."""

from __future__ import annotations

from typing import Any

Link = dict[str, Any]


def operation_ref(target: str) -> str:
    """`"GET /api/v1/profiles/{profile_id}"` as a reference to that operation's entry."""
    method, path = target.split(" ", 1)
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method.lower()}"


def link(
    target: str, parameters: dict[str, str] | None = None, *, body: dict[str, str] | None = None
) -> Link:
    """A link to `target` filling `parameters` ("path.x", "query.y") and fields of its body
    with runtime expressions (`$response.body#/id`, `$request.path.profile_id`)."""
    found: Link = {"operationRef": operation_ref(target)}
    if parameters:
        found["parameters"] = parameters
    if body:
        found["requestBody"] = body
    return found


def links(status: int, *groups: dict[str, Link]) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry that adds these named links to the answer with `status`."""
    named: dict[str, Link] = {}
    for group in groups:
        named.update(group)
    return {status: {"links": named}}


def profile_uses(profile_id: str) -> dict[str, Link]:
    """Every operation that takes a profile's id (`profile_id`: where it is found)."""
    in_path = {"path.profile_id": profile_id}
    return {
        "GetProfile": link("GET /api/v1/profiles/{profile_id}", in_path),
        "UpdateProfile": link("PATCH /api/v1/profiles/{profile_id}", in_path),
        "GetMyList": link("GET /api/v1/profiles/{profile_id}/my-list", in_path),
        "AddToMyList": link("PUT /api/v1/profiles/{profile_id}/my-list/{title_id}", in_path),
        "RateTitle": link("PUT /api/v1/profiles/{profile_id}/ratings/{title_id}", in_path),
        "GetContinueWatching": link("GET /api/v1/profiles/{profile_id}/continue-watching", in_path),
        "GetWatched": link("GET /api/v1/profiles/{profile_id}/watched", in_path),
        "GetHome": link("GET /api/v1/home", {"query.profile_id": profile_id}),
        "Browse": link("GET /api/v1/browse", {"query.profile_id": profile_id}),
        "Search": link("GET /api/v1/search", {"query.profile_id": profile_id}),
        "StartPlayback": link("POST /api/v1/playback/sessions", body={"profile_id": profile_id}),
    }


def title_uses(title_id: str) -> dict[str, Link]:
    """The operations any member may call with a title's id."""
    return {
        "GetTitle": link("GET /api/v1/titles/{title_id}", {"path.title_id": title_id}),
        "GetArtwork": link("GET /api/v1/artwork/{title_id}/{kind}", {"path.title_id": title_id}),
    }


def admin_title_uses(title_id: str) -> dict[str, Link]:
    """What an admin does next with a title's id, and what a member may."""
    in_path = {"path.title_id": title_id}
    return {
        **title_uses(title_id),
        "UpdateTitle": link("PATCH /api/v1/admin/titles/{title_id}", in_path),
        "DeleteTitle": link("DELETE /api/v1/admin/titles/{title_id}", in_path),
        "AddEpisode": link("POST /api/v1/admin/titles/{title_id}/episodes", in_path),
        "UploadMedia": link("POST /api/v1/admin/titles/{title_id}/media", in_path),
    }


def session_uses(session_id: str) -> dict[str, Link]:
    """A playback session's heartbeat and stop."""
    in_path = {"path.session_id": session_id}
    return {
        "Heartbeat": link("POST /api/v1/playback/sessions/{session_id}/heartbeat", in_path),
        "StopPlayback": link("DELETE /api/v1/playback/sessions/{session_id}", in_path),
    }


def refresh_token_uses(refresh_token: str) -> dict[str, Link]:
    """Rotating a refresh token, and signing out with it."""
    body = {"refresh_token": refresh_token}
    return {
        "Refresh": link("POST /api/v1/auth/refresh", body=body),
        "LogOut": link("POST /api/v1/auth/logout", body=body),
    }
