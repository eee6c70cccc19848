"""The `gateway` command: serve (or the demo), run a background worker, run a provider mock,
print the OpenAPI document, manage users and keys, and the apps' webhook endpoints."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training_gateway.gateway.runtime import Gateway
    from training_gateway.gateway.storage import Store


def _serve(args: argparse.Namespace) -> int:
    from training_gateway.gateway.serve import DemoOptions, serve
    from training_gateway.gateway.settings import load_settings

    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.host is not None:
        overrides["host"] = args.host
    settings = load_settings(None, demo=args.demo, **overrides)
    demo = DemoOptions(seed=args.seed, mock_latency_s=args.mock_latency_ms / 1000)
    return serve(settings, demo=demo if args.demo else None)


def _mock(args: argparse.Namespace) -> int:
    import uvicorn

    from training_gateway.adapters._mock.registry import load_mock_factories

    factories = load_mock_factories()
    if args.provider not in factories:
        print(f"unknown provider {args.provider!r}; known: {', '.join(factories)}", file=sys.stderr)
        return 2
    if args.client_id and not args.redirect_uri:
        print("--client-id needs at least one --redirect-uri", file=sys.stderr)
        return 2
    if not args.client_id and (args.client_secret or args.redirect_uri):
        print("--client-secret and --redirect-uri need --client-id", file=sys.stderr)
        return 2
    if len(args.webhook_secret) > len(args.webhook_url):
        print("each --webhook-secret needs a --webhook-url before it", file=sys.stderr)
        return 2
    mock = factories[args.provider](args.seed, history_days=args.days)
    mock.faults.latency_s = args.latency_ms / 1000
    if args.client_id:
        # The gateway (or your app) as an OAuth client of this mock: no secret makes it public.
        mock.auth.register_client(
            args.client_id, secret=args.client_secret, redirect_uris=args.redirect_uri
        )
    subscribed = []
    if args.webhook_url:
        webhooks = getattr(mock, "webhooks", None)
        if webhooks is None:
            print(f"the {args.provider} mock sends no webhooks", file=sys.stderr)
            return 2
        missing = len(args.webhook_url) - len(args.webhook_secret)
        secrets = [*args.webhook_secret, *[None] * missing]  # None: the mock makes one
        # For the registered client's app (the mock's default app without one).
        app = {"app": args.client_id} if args.client_id else {}
        for url, secret in zip(args.webhook_url, secrets, strict=True):
            try:
                subscribed.append(webhooks.subscribe(url, secret=secret, **app))
            except ValueError as exc:
                print(f"--webhook-url {url}: {exc}", file=sys.stderr)
                return 2
    print(f"{args.provider} mock: http://127.0.0.1:{args.port}")
    for webhook in subscribed:
        print(f"webhook: {webhook.url} app {webhook.app} secret {webhook.secret}")
    print(f"token: {mock.token_for()}", flush=True)
    uvicorn.run(mock.asgi_app(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def _openapi(_args: argparse.Namespace) -> int:
    from training_gateway.gateway.app import openapi_document

    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
    return 0


def _secret_key(_args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def _on_store(action: Callable[[Store], Awaitable[None]]) -> int:
    """Run `action` on the store a running gateway uses (same settings, and the demo's key
    when the demo made one in the data directory); errors go to stderr."""
    from training_gateway.gateway.app import vault_for
    from training_gateway.gateway.settings import load_settings
    from training_gateway.gateway.storage import Store
    from training_gateway.gateway.storage.migrate import upgrade
    from training_gateway.models.errors import GatewayError

    async def run() -> None:
        settings = load_settings()
        store = Store.open(settings.database_url, vault_for(settings, demo_key_file=True))
        await upgrade(store.engine)
        try:
            await action(store)
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _on_gateway(action: Callable[[Gateway], Awaitable[None]]) -> int:
    """Run `action` on a gateway built from the same settings as a running one (its adapters,
    OAuth clients and store), without serving it; errors go to stderr."""
    from training_gateway.gateway.app import create_app
    from training_gateway.gateway.settings import load_settings
    from training_gateway.models.errors import GatewayError

    # The CLI enqueues work; the gateway's worker (or `gateway worker`) does it.
    settings = load_settings(engine="off")
    app = create_app(settings, demo_key_file=True)

    async def run() -> None:
        # Raised outside the lifespan, which would wrap it in an exception group.
        failure: GatewayError | None = None
        async with app.lifespan():
            try:
                await action(app.state.gateway)
            except GatewayError as exc:
                failure = exc
        if failure is not None:
            raise failure

    try:
        asyncio.run(run())
    except GatewayError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _users(args: argparse.Namespace) -> int:
    if args.action == "delete":
        return _delete_user(args)

    async def action(store: Store) -> None:
        if args.action == "create":
            user = await store.create_user(args.name)
            print(f"created user {user.name}")
            print(await store.issue_api_key(user))
        elif args.action == "key":
            print(await store.issue_api_key(await store.user_by_name(args.name)))
        else:
            user = await store.user_by_name(args.name)
            count = await store.revoke_api_keys(user)
            print(f"revoked {count} key(s) of {user.name}")

    return _on_store(action)


def _delete_user(args: argparse.Namespace) -> int:
    """Delete a user as DELETE /v1/me does: a line per provider (what became of the grant
    there), then what was deleted here; exit status 1 when a revocation failed (the user is
    deleted all the same) or there is no such user."""
    import msgspec

    from training_gateway.gateway.services.leaving import delete_user

    failed: list[str] = []

    async def action(gateway: Gateway) -> None:
        deleted = await delete_user(gateway, await gateway.store.user_by_name(args.name))
        for revocation in deleted.providers:
            status = f" ({revocation.status})" if revocation.status is not None else ""
            detail = f": {revocation.detail}" if revocation.detail else ""
            print(f"{revocation.provider}: {revocation.outcome}{status}{detail}")
            if revocation.outcome == "failed":
                failed.append(revocation.provider)
        counts = msgspec.structs.asdict(deleted.removed)
        print("removed: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
        print(f"deleted user {deleted.user}")
        if failed:
            print(
                f"warning: revoking at {', '.join(failed)} failed; revoke the grant there by hand",
                file=sys.stderr,
            )

    result = _on_gateway(action)
    return result or (1 if failed else 0)


def _connections(args: argparse.Namespace) -> int:
    """Store a user's provider token given on standard input (never on the command line),
    once the provider has accepted it."""
    from training_gateway.gateway.services.connections import ConnectionFlow

    token = sys.stdin.readline().strip()
    if not token:
        print("error: pass the provider access token on standard input", file=sys.stderr)
        return 2

    async def action(gateway: Gateway) -> None:
        user = await gateway.store.user_by_name(args.name)
        view = await ConnectionFlow(gateway).connect_token(
            user, args.provider, token, oauth_only_allowed=True
        )
        who = f" as {view.subject}" if view.subject else ""
        print(f"connected {user.name} to {args.provider}{who}")

    return _on_gateway(action)


def _worker(args: argparse.Namespace) -> int:
    from training_gateway.gateway.serve import run_worker
    from training_gateway.gateway.settings import load_settings

    overrides: dict[str, object] = {"engine": "off"}
    if args.worker_id:
        overrides["worker_id"] = args.worker_id
    return run_worker(load_settings(None, **overrides))


def _webhooks(args: argparse.Namespace) -> int:
    """The apps' webhook endpoints, managed on the gateway's database (as the admin API
    does, without needing its key)."""
    from training_gateway.gateway.services.events import EndpointRequest
    from training_gateway.gateway.storage.vault import has_development_key

    async def action(gateway: Gateway) -> None:
        events = gateway.events
        if has_development_key(gateway.settings.data_dir):
            events.allow_private_targets = True  # a demo's data directory: its receivers are local
        if args.action == "add":
            if not args.target:
                raise SystemExit("gateway webhooks add: give the endpoint's URL")
            created = await events.create_endpoint(
                EndpointRequest(
                    url=args.target,
                    event_types=args.event or None,
                    description=args.description,
                )
            )
            print(f"endpoint {created.id} -> {created.url}")
            print(f"events: {' '.join(created.event_types)}")
            print(f"secret: {created.secret}  (shown once; verify deliveries with it)")
        elif args.action == "list":
            for endpoint in await events.endpoints():
                state = (
                    f"disabled: {endpoint.disabled_reason}" if endpoint.disabled_at else "enabled"
                )
                print(f"{endpoint.id}  {endpoint.url}  [{' '.join(endpoint.event_types)}]  {state}")
        elif args.action == "remove":
            await events.delete_endpoint(_target(args))
            print(f"removed {args.target}")
        elif args.action == "test":
            delivery_id = await events.send_test(_target(args))
            print(f"queued webhook.test delivery {delivery_id}")
        else:
            for delivery in await events.deliveries(_target(args), limit=args.limit):
                code = delivery.last_status_code or "-"
                print(
                    f"{delivery.created_at:%Y-%m-%d %H:%M:%S}  {delivery.id}  "
                    f"{delivery.event_type}  {delivery.status}  attempts={delivery.attempts}  "
                    f"last={code}  {delivery.last_error or ''}".rstrip()
                )

    return _on_gateway(action)


def _upload(args: argparse.Namespace) -> int:
    """Upload each file on its own through the service the HTTP route uses, so one bad file
    is named and the others still go; non-zero when any failed."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from training_gateway.gateway.forms import FormFile
    from training_gateway.gateway.services.sources import CallerSources
    from training_gateway.gateway.services.uploads import FIT_MEDIA_TYPE, UploadCreated, upload
    from training_gateway.gateway.storage import AnalyticsRepository
    from training_gateway.models.errors import GatewayError

    console = Console()
    paths = [Path(name) for name in args.files]
    failed: list[str] = []

    async def action(gateway: Gateway) -> None:
        user = await gateway.store.user_by_name(args.user)
        sources = CallerSources(gateway, user)
        source = await sources.named_in_body(args.provider)
        sizes = [path.stat().st_size if path.is_file() else 0 for path in paths]
        # Off a terminal (a pipe, a test) rich draws nothing and the lines below are the output.
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress:
            total = progress.add_task("upload", total=sum(sizes))
            for path, size in zip(paths, sizes, strict=True):
                progress.update(total, description=path.name)
                try:
                    if not path.is_file():
                        raise FileNotFoundError(f"no such file: {path}")
                    file = FormFile(
                        name=path.name, path=path, size=size, content_type=FIT_MEDIA_TYPE
                    )
                    outcome = await upload(AnalyticsRepository(gateway.store), user, source, [file])
                except (GatewayError, OSError) as exc:
                    detail = exc.detail if isinstance(exc, GatewayError) else str(exc)
                    failed.append(path.name)
                    progress.console.print(
                        f"{path}: failed: {detail}", markup=False, highlight=False, soft_wrap=True
                    )
                else:
                    if isinstance(outcome, UploadCreated):
                        for created in outcome.items:
                            await gateway.sync.written(user, source, "activity", created)
                        made = ", ".join(item.id for item in outcome.items)
                    else:
                        made = ", ".join(f"source {sid}" for sid in outcome.sources)
                    progress.console.print(
                        f"{path}: {made}", markup=False, highlight=False, soft_wrap=True
                    )
                progress.advance(total, size)
        done = len(paths) - len(failed)
        print(f"{done} of {len(paths)} file(s) uploaded to {args.provider}, {len(failed)} failed")

    result = _on_gateway(action)
    return result or (1 if failed else 0)


def _doctor(_args: argparse.Namespace) -> int:
    from training_gateway.gateway.doctor import diagnose

    findings = asyncio.run(diagnose())
    for finding in findings:
        print(finding.line())
    return 0 if all(finding.ok for finding in findings) else 1


def _events_tail(args: argparse.Namespace) -> int:
    """Print each event as it is recorded and each change of its deliveries, one line each
    (JSON with --json), polling the gateway's database; --once prints what is there and exits,
    --limit N exits after N events."""
    from datetime import UTC, datetime

    import msgspec

    from training_gateway.gateway.services.events import EventLogEntry

    def emit(entry: EventLogEntry, line: str) -> None:
        print(msgspec.json.encode(entry).decode() if args.json else line, flush=True)

    async def action(gateway: Gateway) -> None:
        user_id = (await gateway.store.user_by_name(args.user)).id if args.user else None
        since = datetime.min.replace(tzinfo=UTC) if args.once else datetime.now(UTC)
        print(f"following events from {since:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr, flush=True)
        seen: dict[str, tuple[str, int]] = {}
        events_seen: set[str] = set()
        while True:
            for entry in await gateway.events.log(since=since, user_id=user_id, limit=1000):
                if entry.id not in events_seen:
                    events_seen.add(entry.id)
                    emit(
                        entry,
                        f"{entry.occurred_at:%Y-%m-%d %H:%M:%S}  {entry.id}  {entry.type}  "
                        f"{entry.provider or '-'}  {entry.resource_id or '-'}",
                    )
                for state in entry.deliveries:
                    now = (state.status, state.attempts)
                    if seen.get(state.id) != now:
                        seen[state.id] = now
                        if not args.json:
                            code = state.last_status_code or "-"
                            print(
                                f"  delivery {state.id} to {state.endpoint_id}: {state.status} "
                                f"attempts={state.attempts} last={code}",
                                flush=True,
                            )
                if args.limit and len(events_seen) >= args.limit:
                    return
            if args.once:
                return
            await asyncio.sleep(args.interval_s)

    return _on_gateway(action)


def _backfill_watch(args: argparse.Namespace) -> int:
    """Follow a user's backfill jobs (the gateway's index of each connection) until every one
    is done or failed: a bar per provider on a terminal, a line per change otherwise."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn

    console = Console()
    failed: list[str] = []

    async def action(gateway: Gateway) -> None:
        user = await gateway.store.user_by_name(args.user)
        providers = sorted(name for name in await gateway.store.connections(user))
        deadline = time.monotonic() + args.timeout_s
        last: dict[str, str] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
            disable=not console.is_terminal,
        ) as progress:
            bars: dict[str, TaskID] = {
                name: progress.add_task(name, total=None, state="") for name in providers
            }
            while True:
                finished = True
                for name in providers:
                    states = await gateway.sync.sync_states(user, name)
                    statuses = {state.backfill_status for state in states} or {"pending"}
                    indexed = sum(state.backfill_indexed for state in states)
                    status = next(
                        (s for s in ("failed", "running", "pending") if s in statuses), "done"
                    )
                    line = f"{name}: {status}, {indexed} indexed"
                    if last.get(name) != line:
                        last[name] = line
                        progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
                    done = status in ("done", "failed")
                    progress.update(
                        bars[name],
                        state=f"{status}, {indexed} indexed",
                        total=indexed if done else None,
                        completed=indexed,
                    )
                    if status == "failed" and name not in failed:
                        failed.append(name)
                    finished = finished and done
                if finished:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"gateway backfill watch: not done after {args.timeout_s} s")
                await asyncio.sleep(args.interval_s)
        print(f"backfill of {user.name}: {len(providers) - len(failed)} done, {len(failed)} failed")

    result = _on_gateway(action)
    return result or (1 if failed else 0)


def _target(args: argparse.Namespace) -> str:
    if not args.target:
        raise SystemExit(f"gateway webhooks {args.action}: give the endpoint's id")
    return str(args.target)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "--demo", action="store_true", help="start the provider mocks and a connected demo user"
    )
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the demo mocks' data")
    serve.add_argument(
        "--mock-latency-ms",
        type=float,
        default=0.0,
        help="latency the demo mocks add to every request",
    )
    serve.set_defaults(run=_serve)

    mock = commands.add_parser("mock", help="run one provider's mock on 127.0.0.1")
    mock.add_argument("provider")
    mock.add_argument("--port", type=int, required=True)
    mock.add_argument("--seed", type=int, default=0)
    mock.add_argument(
        "--latency-ms", type=float, default=0.0, help="latency added to every request"
    )
    mock.add_argument("--days", type=int, default=90, help="days of seeded training history")
    mock.add_argument("--client-id", help="register an OAuth client at the mock")
    mock.add_argument("--client-secret", help="its secret (omit for a public client: PKCE only)")
    mock.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI of that client (repeatable), e.g. the gateway's callback",
    )
    mock.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        help="send the mock's webhooks there (repeatable; SweatStack), for --client-id's app",
    )
    mock.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        help="the whsec_... secret of the --webhook-url of the same rank (a new one if omitted)",
    )
    mock.set_defaults(run=_mock)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)

    secret = commands.add_parser("secret-key", help="print a new key for GATEWAY_SECRET_KEY")
    secret.set_defaults(run=_secret_key)

    users = commands.add_parser(
        "users", help="manage gateway users and their API keys; delete a user and their data"
    )
    users.add_argument("action", choices=["create", "key", "revoke", "delete"])
    users.add_argument("name")
    users.set_defaults(run=_users)

    conns = commands.add_parser("connections", help="set a user's provider token (read from stdin)")
    conns.add_argument("action", choices=["set"])
    conns.add_argument("name", help="gateway user")
    conns.add_argument("provider")
    conns.set_defaults(run=_connections)

    worker = commands.add_parser(
        "worker", help="run a background worker (webhooks in, reconciliation, deliveries)"
    )
    worker.add_argument("--worker-id", help="this worker's name (default: host and pid)")
    worker.set_defaults(run=_worker)

    hooks = commands.add_parser("webhooks", help="manage the apps' webhook endpoints")
    hooks.add_argument("action", choices=["add", "list", "remove", "test", "deliveries"])
    hooks.add_argument("target", nargs="?", help="the URL (add) or the endpoint's id")
    hooks.add_argument(
        "--event", action="append", default=[], help="an event type to send (repeatable; all)"
    )
    hooks.add_argument("--description", help="what the endpoint is")
    hooks.add_argument("--limit", type=int, default=20, help="deliveries to show")
    hooks.set_defaults(run=_webhooks)

    uploads = commands.add_parser("upload", help="upload FIT files for a user, one result a file")
    uploads.add_argument("files", nargs="+", help="FIT files")
    uploads.add_argument("--provider", required=True, help="where the activities go")
    uploads.add_argument("--user", required=True, help="gateway user")
    uploads.set_defaults(run=_upload)

    events = commands.add_parser("events", help="follow the events the gateway records")
    events.add_argument("action", choices=["tail"])
    events.add_argument("--user", help="only this gateway user's events")
    events.add_argument("--json", action="store_true", help="one JSON object per event")
    events.add_argument("--once", action="store_true", help="print the events there are, exit")
    events.add_argument("--limit", type=int, default=0, help="exit after this many events")
    events.add_argument("--interval-s", type=float, default=0.5, help="how often to look")
    events.set_defaults(run=_events_tail)

    backfill = commands.add_parser("backfill", help="follow a user's backfill until done")
    backfill.add_argument("action", choices=["watch"])
    backfill.add_argument("--user", required=True, help="gateway user")
    backfill.add_argument("--interval-s", type=float, default=0.5, help="how often to look")
    backfill.add_argument("--timeout-s", type=float, default=3600.0, help="give up after this")
    backfill.set_defaults(run=_backfill_watch)

    doctor = commands.add_parser(
        "doctor", help="check settings, key, database, providers' reachability and clock skew"
    )
    doctor.set_defaults(run=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from training_gateway.gateway.serve import StartupError
    from training_gateway.gateway.settings import SettingsError

    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except (StartupError, SettingsError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
