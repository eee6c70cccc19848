"""The official `sweatstack` client (0.97.0) against the mock over loopback: the profile
(account status, sports, tags, app metadata), the users a caller can access with the managed
users it creates, and `whoami` (which goes through the principal token)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sweatstack
from sweatstack.exceptions import SweatStackAuthError, SweatStackNotFoundError
from sweatstack.schemas import AccountStatusResponse, UserResponse, UserSummary

from training_gateway.adapters.sweatstack.mock import SweatStackMock
from training_gateway.adapters.sweatstack.mock.api.profile import MAX_PROFILE_APP_METADATA_BYTES


def _client(url: str, token: str) -> sweatstack.Client:
    return sweatstack.Client(api_key=token, url=url, ambient_credentials=False, max_retries=0)


@pytest.fixture
def served(fresh_server: tuple[SweatStackMock, str]) -> tuple[SweatStackMock, str]:
    return fresh_server


@pytest.fixture
def client(served: tuple[SweatStackMock, str]) -> Iterator[sweatstack.Client]:
    mock, url = served
    with _client(url, mock.token_for()) as client:
        yield client


def test_profile_sports_and_tags_are_the_users_own(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    user = mock.default_user
    stored = mock.activities_of(user)

    sports = client.profile.sports()
    roots = client.profile.sports(only_root=True)
    tags = client.profile.tags()

    assert sorted(str(sport) for sport in sports) == sorted({s.sport for s in stored})
    assert sorted(str(sport) for sport in roots) == sorted({s.sport.split(".")[0] for s in stored})
    assert len(roots) < len(sports)
    expected_tags = {t for s in stored for t in s.tags}
    expected_tags |= {t for test in mock.store.tests_state.of(user) for t in test.tags or ()}
    assert tags == sorted(expected_tags) and tags


def test_profile_sports_need_activities_read(served: tuple[SweatStackMock, str]) -> None:
    mock, url = served
    with _client(url, mock.token_for(scope="openid profile")) as narrowed:
        with pytest.raises(SweatStackAuthError):
            narrowed.profile.sports()
        assert isinstance(narrowed.profile.status(), AccountStatusResponse)  # any valid token


def test_profile_status_follows_the_backfill(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    user = mock.default_user

    arriving = client.profile.status()
    mock.store.backfill_loaded[user] = len(mock.activities_of(user))
    ready = client.profile.status()

    assert arriving.issue is not None and arriving.issue.status.value == "syncing"
    assert arriving.issue.code.value == "sync_pending" and arriving.issue.destination is None
    assert arriving.capabilities[sweatstack.schemas.Capability.activity_history].value == "syncing"
    assert ready.issue is None
    assert {key.value: value.value for key, value in ready.capabilities.items()} == {
        "activities": "ready",
        "activity_history": "ready",
        "wellness": "unavailable",
        "workouts": "unavailable",
    }


def test_profile_app_metadata_needs_an_app_token_and_is_kept_per_app(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    user = mock.default_user
    with (
        _client(url, mock.token_for(client_id="coach-app")) as app,
        _client(url, mock.token_for()) as personal,
    ):
        app.profile.app_metadata.set(data={"onboarded": True, "plan": {"week": 3}})
        assert mock.store.profiles.app_metadata[(user, "coach-app")] == {
            "onboarded": True,
            "plan": {"week": 3},
        }
        with pytest.raises(SweatStackAuthError):
            personal.profile.app_metadata.set(data={"x": 1})
        app.profile.app_metadata.delete()

    assert (user, "coach-app") not in mock.store.profiles.app_metadata


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"blob": "x" * MAX_PROFILE_APP_METADATA_BYTES}, 413),
        ([1, 2], 422),
    ],
)
def test_profile_app_metadata_refuses_what_sweatstack_refuses(
    served: tuple[SweatStackMock, str], body: object, status: int
) -> None:
    mock, url = served
    token = mock.token_for(client_id="coach-app")
    response = httpx.put(
        f"{url}/api/v1/profile/app-metadata",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == status and response.json()["detail"]


def test_users_list_and_whoami_go_through_the_principal_token(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served

    users = client.users.list()
    me = client.whoami()

    assert [user.id for user in users] == [mock.default_user]
    assert isinstance(me, UserSummary) and me.id == mock.default_user
    assert me.display_name == "Athlete 1" and not me.is_managed
    assert "activities:read" in {scope.value for scope in me.scopes}


def test_managed_users_are_created_listed_renamed_and_deleted(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, url = served

    junior = client.users.create(first_name="Bob", last_name="Smit")
    listed = client.users.list()
    only_me = client.users.list(include_managed=False)
    found = client.users.list(name="smit")
    renamed = client.users.update(junior.id, last_name="de Vries")
    fetched = client.users.retrieve(junior.id)
    with _client(url, mock.token_for(mock.other_user)) as other:
        with pytest.raises(SweatStackNotFoundError):
            other.users.retrieve(junior.id)
        assert [u.id for u in other.users.list()] == [mock.other_user]
    client.users.delete(junior.id)

    assert isinstance(junior, UserResponse) and junior.is_managed and not junior.admin
    assert junior.display_name == "Bob Smit" and junior.id.startswith("usr_")
    assert [u.id for u in listed] == [mock.default_user, junior.id]
    assert [u.id for u in only_me] == [mock.default_user]
    assert [u.id for u in found] == [junior.id]
    assert renamed.display_name == "Bob de Vries" and renamed.first_name == "Bob"
    assert fetched == renamed
    assert [u.id for u in client.users.list()] == [mock.default_user]
    with pytest.raises(SweatStackNotFoundError):
        client.users.retrieve(junior.id)


def test_the_principal_token_is_a_working_grant(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    principal = client.principal_client()
    try:
        assert principal.profile.tags() == client.profile.tags()
        assert principal._get_user_id_from_token() == mock.default_user
    finally:
        principal.close()


def test_a_manager_acts_as_its_managed_user_and_back(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, url = served
    junior = client.users.create(first_name="Bob")

    acting = client.delegated_client(junior.id)
    try:
        acts_as = acting._get_user_id_from_token()
        their_activities = acting.activities.list(limit=5)
        their_tags = acting.profile.tags()
        who = acting.whoami()  # through the principal's users list
        delegated = acting.api_key.get_secret_value()
        refused = httpx.get(
            f"{url}/api/v1/users/", headers={"Authorization": f"Bearer {delegated}"}
        )
        back = acting.principal_client()
        try:
            principal_again = back._get_user_id_from_token()
            own_activities = back.activities.list(limit=5)
        finally:
            back.close()
    finally:
        acting.close()

    assert acts_as == junior.id and who.id == junior.id and who.is_managed
    assert refused.status_code == 403 and "delegated" in refused.json()["detail"]
    assert their_activities == [] and their_tags == []
    assert principal_again == mock.default_user
    assert own_activities == client.activities.list(limit=5) and own_activities


def test_delegating_to_a_user_you_do_not_manage_is_refused(
    client: sweatstack.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    junior = client.users.create(first_name="Bob")

    with pytest.raises(SweatStackAuthError):
        client.delegated_client(mock.other_user)
    with pytest.raises(SweatStackAuthError):
        client.delegated_client(junior.id, team_id="team_nowhere")


def test_a_delegated_token_holds_only_delegable_scopes_of_the_principal(
    served: tuple[SweatStackMock, str],
) -> None:
    mock, url = served
    with _client(url, mock.token_for(scope="openid profile activities:read")) as narrow:
        junior = narrow.users.create(first_name="Bob")
        acting = narrow.delegated_client(junior.id)
        try:
            claims = sweatstack.utils.decode_jwt_body(acting.api_key.get_secret_value())
        finally:
            acting.close()

    assert claims["scope"] == "activities:read"
    assert claims["act"] == {"sub": mock.default_user, "scope": "openid profile activities:read"}
