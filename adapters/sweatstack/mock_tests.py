"""The SweatStack mock's Tests API (`/api/v1/tests`), as ../shared/specs/sweatstack-tests.txt
documents it and the official client (0.97) calls it.

Which app a request comes from is the access token's `client_id` claim; a token without one
(a personal token, or `mock.token_for()`) counts as SweatStack's own web app. A test belongs
to the app that created it (`created_by`): another app may read it and attach its own
`app_metadata`, but replacing or deleting it answers 403.

Each stored test keeps a `version`, bumped by every change (replace, app metadata, or a test's
own `TestsState.change`), so tests can see whether a write landed; `TestsState.after_read`
runs a callback right after the next GET of a test, to land another app's write between a
client's read and its write.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from open_sport_taxonomy import Sport

from training_gateway.adapters.sweatstack import wire
from training_gateway.models.sport import sport_matches

if TYPE_CHECKING:
    from training_gateway.adapters.sweatstack.mock import SweatStackMock

#: The app a token without `client_id` stands for.
FIRST_PARTY_APP = "sweatstack-web"
#: The lab app that recorded the seeded tests.
LAB_APP = "sweatstack-lab"
MAX_PAGE = 50
MAX_APP_METADATA_BYTES = 1024
MAX_APP_METADATA_DEPTH = 32
#: A test created without `end` ends this long after its start (the SDK documents it so).
DEFAULT_DURATION = timedelta(hours=3)
TRACE_RESOLUTIONS = ("auto", "linked")


@dataclass(eq=False)
class StoredTest:
    id: str
    user: str
    created_by: str
    sport: str
    start: datetime  # with the athlete's offset
    end: datetime | None
    title: str | None
    results: dict[str, Any] | None
    tags: list[str] | None
    app_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 1

    @property
    def start_local(self) -> datetime:
        return self.start.replace(tzinfo=None)

    def summary(self, app: str) -> dict[str, Any]:
        """The TestSummary JSON: instants in UTC with `Z`, local wall clocks naive."""
        return {
            "id": self.id,
            "tags": self.tags,
            "created_by": self.created_by,
            "title": self.title,
            "sport": self.sport,
            "start": _utc(self.start),
            "end": _utc(self.end) if self.end else None,
            "results": self.results,
            "app_metadata": self.app_metadata.get(app),
            "start_local": self.start_local.isoformat(),
            "end_local": self.end.replace(tzinfo=None).isoformat() if self.end else None,
        }


class TestsState:
    """The tests of every user, with hooks tests use to interleave other apps' writes."""

    __test__ = False

    def __init__(self) -> None:
        self.tests: dict[str, StoredTest] = {}
        self._after_read: dict[str, Callable[[StoredTest], None]] = {}
        self._lock = threading.RLock()

    def after_read(self, test_id: str, callback: Callable[[StoredTest], None]) -> None:
        """Run `callback` once, right after the next GET of `test_id` is served (another
        app's write landing between a client's read and its write)."""
        with self._lock:
            self._after_read[test_id] = callback

    def read_hook(self, test_id: str) -> Callable[[StoredTest], None] | None:
        with self._lock:
            return self._after_read.pop(test_id, None)

    def add(self, test: StoredTest) -> StoredTest:
        with self._lock:
            self.tests[test.id] = test
        return test

    def change(self, test: StoredTest, **fields: Any) -> None:
        """Change a stored test as a write would (bumping its version)."""
        with self._lock:
            for name, value in fields.items():
                setattr(test, name, value)
            test.version += 1

    def set_app_metadata(self, test: StoredTest, app: str, data: dict[str, Any] | None) -> None:
        """Set (or, with None, remove) one app's metadata on a test, bumping its version."""
        with self._lock:
            if data is None:
                if test.app_metadata.pop(app, None) is None:
                    return  # nothing changed
            else:
                test.app_metadata[app] = data
            test.version += 1

    def of(self, user: str) -> list[StoredTest]:
        with self._lock:
            found = [t for t in self.tests.values() if t.user == user]
        found.sort(key=lambda t: t.id)
        found.sort(key=lambda t: t.start, reverse=True)
        return found

    def get(self, user: str, test_id: str) -> StoredTest:
        with self._lock:
            test = self.tests.get(test_id)
        if test is None or test.user != user:
            raise _api_error(404, "Test not found")
        return test

    def remove(self, test_id: str) -> None:
        with self._lock:
            self.tests.pop(test_id, None)

    def seed(self, users: tuple[str, ...], seed: int, today: date | None = None) -> None:
        """A lactate step test, a VO2max test and an FTP test per seeded athlete."""
        today = today or date.today()
        for index, user in enumerate(users):
            rng = random.Random(f"tests:{seed}:{index}")
            offset = timezone(timedelta(hours=2 if index % 2 == 0 else 1))
            ftp = rng.randint(230, 320)
            hr_max = rng.randint(178, 198)
            for days_ago, kind in ((12, "lactate"), (40, "vo2max"), (75, "ftp")):
                start = datetime.combine(
                    today - timedelta(days=days_ago), time(9 + rng.randint(0, 3), 0), offset
                )
                results: dict[str, Any]
                if kind == "lactate":
                    results = {
                        "first_threshold": {
                            "power": round(ftp * 0.72),
                            "heart_rate": hr_max - 38,
                            "lactate": 2.0,
                        },
                        "second_threshold": {
                            "power": round(ftp * 0.98),
                            "heart_rate": hr_max - 14,
                            "lactate": 4.0,
                        },
                        "lt1": {
                            "power": round(ftp * 0.72),
                            "heart_rate": hr_max - 38,
                            "lactate": 2.0,
                        },
                        "lt2": {
                            "power": round(ftp * 0.98),
                            "heart_rate": hr_max - 14,
                            "lactate": 4.0,
                        },
                        "fatmax": {"power": round(ftp * 0.6), "heart_rate": hr_max - 50},
                    }
                    title, sport, minutes = "Lactate step test", "cycling.road", 75
                elif kind == "vo2max":
                    vo2 = rng.randint(3900, 5200)
                    results = {
                        "vo2max": float(vo2),
                        "vo2peak": float(vo2 + rng.randint(0, 120)),
                        "heart_rate_max": hr_max,
                        "vt1": {
                            "power": round(ftp * 0.7),
                            "heart_rate": hr_max - 40,
                            "vo2": vo2 * 0.6,
                        },
                        "vt2": {
                            "power": round(ftp * 1.0),
                            "heart_rate": hr_max - 12,
                            "vo2": vo2 * 0.85,
                        },
                    }
                    title, sport, minutes = "VO2max ramp test", "cycling.road", 35
                else:
                    results = {"critical_power": ftp, "w_prime": round(rng.uniform(14, 24), 1)}
                    title, sport, minutes = "FTP test", "cycling.road", 60
                self.add(
                    StoredTest(
                        id=_test_id(seed, index, kind),
                        user=user,
                        created_by=LAB_APP,
                        sport=sport,
                        start=start,
                        end=start + timedelta(minutes=minutes),
                        title=title,
                        results=results,
                        tags=["lab", kind],
                    )
                )


def _test_id(seed: int, index: int, kind: str) -> str:
    digest = random.Random(f"{seed}:{index}:{kind}").getrandbits(64)
    return f"tst_{digest:016x}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


# --- HTTP ---------------------------------------------------------------------------------


class Caller(msgspec.Struct, frozen=True):
    user: str
    app: str
    app_token: bool


def provide_test_caller(
    request: Request[Any, Any, Any], store: NamedDependency[SweatStackMock]
) -> Caller:
    """The user and the app behind the bearer token; 401 as the activity API answers it."""
    from training_gateway.adapters.sweatstack.mock import verified_claims

    claims = verified_claims(request, store)
    app = claims.get("client_id")
    return Caller(
        user=str(claims["sub"]),
        app=str(app) if app else FIRST_PARTY_APP,
        app_token=bool(app),
    )


def _api_error(status: int, detail: Any) -> Exception:
    from training_gateway.adapters.sweatstack.mock import ApiError

    return ApiError(status, detail)


def _json(value: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(value), media_type="application/json", status_code=status
    )


class _TestWrite(msgspec.Struct, kw_only=True):
    """TestCreate / TestUpdate: sport and start required, everything else optional."""

    sport: str
    start: datetime
    end: datetime | None = None
    title: str | None = None
    results: wire.TestResults | None = None
    tags: list[str] | None = None


def _write_body(raw: bytes) -> _TestWrite:
    """The body, validated as FastAPI would: a 422 listing what is wrong."""
    from training_gateway.adapters.sweatstack.mock import ApiError, _body_error

    try:
        obj = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        raise ApiError(422, [_body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(obj, dict):
        raise ApiError(
            422,
            [_body_error("model_attributes_type", [], "Input should be a valid dictionary", obj)],
        )
    errors = [
        _body_error("missing", [name], "Field required", obj)
        for name in ("sport", "start")
        if obj.get(name) is None
    ]
    if errors:
        raise ApiError(422, errors)
    try:
        body = msgspec.convert(obj, _TestWrite, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        where = message.split("at `$.", 1)[1].rstrip("`").split(".") if "at `$." in message else []
        raise ApiError(422, [_body_error("value_error", where, message, None)]) from None
    for name, moment in (("start", body.start), ("end", body.end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(
                422,
                [
                    _body_error(
                        "timezone_aware", [name], "Input should have timezone info", obj.get(name)
                    )
                ],
            )
    try:
        Sport.parse(body.sport)
    except ValueError:
        raise ApiError(
            422,
            [
                _body_error(
                    "value_error",
                    ["sport"],
                    f"Value error, unknown sport {body.sport!r}",
                    body.sport,
                )
            ],
        ) from None
    return body


def _results(body: _TestWrite) -> dict[str, Any] | None:
    return None if body.results is None else msgspec.to_builtins(body.results)


def _owned_by_app(test: StoredTest, caller: Caller) -> None:
    if test.created_by != caller.app:
        raise _api_error(
            403, "This test was created by another app; your token has no access to change it"
        )


class TestsController(Controller):
    """`/api/v1/tests`: list, details, create, replace, delete, and per-app metadata."""

    __test__ = False
    path = "/api/v1/tests"
    dependencies = {"caller": Provide(provide_test_caller, sync_to_thread=False)}

    @get(["/", ""])
    async def list_tests(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
    ) -> Response[bytes]:
        from training_gateway.adapters.sweatstack.mock import (
            QueryParams,
            _on_or_after,
            _on_or_before,
        )

        query = QueryParams(request)
        start, end = query.moment("start"), query.moment("end")
        sports = query.sports()
        tags = query.strings("tags")
        created_by = request.query_params.get("created_by")
        limit = query.integer("limit", MAX_PAGE, ge=1)
        offset = query.integer("offset", 0, ge=0)
        if limit > MAX_PAGE:
            query._error(
                "limit",
                "less_than_equal",
                f"Input should be less than or equal to {MAX_PAGE}",
                str(limit),
                le=MAX_PAGE,
            )
        query.check()
        found = [
            t
            for t in store.tests_state.of(caller.user)
            if _on_or_after(t, start)
            and _on_or_before(t, end)
            and sport_matches(t.sport, sports)
            and set(tags) <= set(t.tags or [])
            and (created_by is None or t.created_by == created_by)
        ]
        return _json([t.summary(caller.app) for t in found[offset : offset + limit]])

    @get("/{test_id:str}")
    async def test_details(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
        test_id: FromPath[str],
    ) -> Response[bytes]:
        from training_gateway.adapters.sweatstack.mock import QueryParams

        query = QueryParams(request)
        # `traces=linked` keeps only traces linked to this test; the mock holds no traces, so
        # both resolutions give an empty list, but a value the API does not know is a 422.
        query.choice(("traces",), TRACE_RESOLUTIONS)
        query.check()
        test = store.tests_state.get(caller.user, test_id)
        details = test.summary(caller.app)
        end = test.end or test.start
        linked = [
            a
            for a in store.activities_of(caller.user)
            if a.start <= end and a.session.end >= test.start
        ]
        details["traces"] = []
        details["activities"] = [wire.to_json_object(a.list_item) for a in linked]
        response = _json(details)
        hook = store.tests_state.read_hook(test_id)
        if hook is not None:
            hook(test)
        return response

    @post(["/", ""], status_code=201)
    async def create_test(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
    ) -> Response[bytes]:
        body = _write_body(await request.body())
        test = store.tests_state.add(
            StoredTest(
                id="tst_" + secrets.token_hex(8),
                user=caller.user,
                created_by=caller.app,
                sport=body.sport,
                start=body.start,
                end=body.end if body.end is not None else body.start + DEFAULT_DURATION,
                title=body.title,
                results=_results(body),
                tags=body.tags,
            )
        )
        return _json(test.summary(caller.app), 201)

    @put("/{test_id:str}")
    async def replace_test(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
        test_id: FromPath[str],
    ) -> Response[bytes]:
        test = store.tests_state.get(caller.user, test_id)
        _owned_by_app(test, caller)
        body = _write_body(await request.body())
        store.tests_state.change(
            test,
            sport=body.sport,
            start=body.start,
            end=body.end,
            title=body.title,
            results=_results(body),
            tags=body.tags,
        )
        return _json(test.summary(caller.app))

    @delete("/{test_id:str}", status_code=204)
    async def delete_test(
        self,
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
        test_id: FromPath[str],
    ) -> None:
        test = store.tests_state.get(caller.user, test_id)
        _owned_by_app(test, caller)
        store.tests_state.remove(test_id)

    @put("/{test_id:str}/app-metadata", status_code=204)
    async def put_app_metadata(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
        test_id: FromPath[str],
    ) -> None:
        from training_gateway.adapters.sweatstack.mock import _body_error

        test = store.tests_state.get(caller.user, test_id)
        if not caller.app_token:
            raise _api_error(403, "App metadata needs an app token")
        raw = await request.body()
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise _api_error(
                422, [_body_error("json_invalid", [], "JSON decode error", None)]
            ) from None
        if not isinstance(data, dict):
            raise _api_error(
                422, [_body_error("dict_type", [], "Input should be a valid dictionary", data)]
            )
        # The size is of the compact JSON, so a client's whitespace does not count.
        if len(msgspec.json.encode(data)) > MAX_APP_METADATA_BYTES:
            raise _api_error(413, "App metadata is limited to 1 KB")
        if _depth(data) > MAX_APP_METADATA_DEPTH:
            raise _api_error(
                422,
                [
                    _body_error(
                        "value_error",
                        [],
                        "Value error, app metadata is limited to 32 levels",
                        None,
                    )
                ],
            )
        store.tests_state.set_app_metadata(test, caller.app, data)

    @delete("/{test_id:str}/app-metadata", status_code=204)
    async def delete_app_metadata(
        self,
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[Caller],
        test_id: FromPath[str],
    ) -> None:
        test = store.tests_state.get(caller.user, test_id)
        if not caller.app_token:
            raise _api_error(403, "App metadata needs an app token")
        store.tests_state.set_app_metadata(test, caller.app, None)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0
