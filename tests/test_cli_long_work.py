"""`gateway upload`, `events tail` and `backfill watch` as an operator runs them: real processes,
a real data directory and the Astral mock on loopback."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.test_cli import GATEWAY, env, processes, start
from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity

__all__ = ["env", "processes"]  # the fixtures these tests share with tests/test_cli.py


def run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY, *args], env=env, capture_output=True, text=True, timeout=120, **kwargs
    )  # type: ignore[call-overload, no-any-return]


def write_fit(path: Path, seed: int) -> Path:
    start_at = (datetime.now(UTC) - timedelta(days=2 + seed)).replace(microsecond=0)
    path.write_bytes(
        encode_fit(synthetic_activity(600, seed=seed, start=start_at, name=f"CLI upload {seed}"))
    )
    return path


def connected_user(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> tuple[dict[str, str], int, str]:
    """An Astral mock, and user `ann` connected to it: the env, the mock's port and token."""
    mock_port = free_loopback_port()
    mock, lines = start(["mock", "astral", "--port", str(mock_port)], env, "token: ")
    processes.append(mock)
    token = lines[-1].split(" ", 1)[1]
    env = {**env, "GATEWAY_ASTRAL_URL": f"http://127.0.0.1:{mock_port}"}
    assert run(["users", "create", "ann"], env).returncode == 0
    assert run(["connections", "set", "ann", "astral"], env, input=token + "\n").returncode == 0
    return env, mock_port, token


def test_upload_answers_per_file_and_fails_when_one_file_is_bad(
    env: dict[str, str], processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    env, mock_port, token = connected_user(env, processes)
    good = [write_fit(tmp_path / "morning.fit", 1), write_fit(tmp_path / "evening.fit", 2)]
    bad = tmp_path / "notes.fit"
    bad.write_bytes(b"this is not a FIT file")

    result = run(
        ["upload", str(good[0]), str(bad), str(good[1]), "--provider", "astral", "--user", "ann"],
        env,
    )

    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    created = {}
    for path in good:
        (line,) = [line for line in out if line.startswith(f"{path}: ")]
        created[path.name] = line.split(": ", 1)[1]
        assert created[path.name].startswith("astral:"), line
    (failure,) = [line for line in out if line.startswith(f"{bad}: failed: ")]
    assert "not a FIT file" in failure.split("failed: ", 1)[1]
    assert out[-1] == "2 of 3 file(s) uploaded to astral, 1 failed"
    # The activities are at the provider, under the ids the CLI printed.
    for name, federated_id in created.items():
        provider_id = federated_id.split(":", 1)[1]
        found = httpx.get(
            f"http://127.0.0.1:{mock_port}/api/v1/activities/{provider_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert found.status_code == 200, (name, found.text)
    assert len(set(created.values())) == 2


def test_events_tail_follows_the_events_an_upload_causes(
    env: dict[str, str], processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    env, _port, _token = connected_user(env, processes)
    tail, _lines = start(
        ["events", "tail", "--user", "ann", "--json", "--limit", "1"], env, "following events"
    )
    processes.append(tail)
    fit = write_fit(tmp_path / "ride.fit", 3)
    uploaded = run(["upload", str(fit), "--provider", "astral", "--user", "ann"], env)
    assert uploaded.returncode == 0, uploaded.stderr
    activity_id = uploaded.stdout.splitlines()[0].split(": ", 1)[1]
    out, _ = tail.communicate(timeout=30)
    (event,) = [json.loads(line) for line in out.splitlines()]
    assert event["type"] == "activity.created"
    assert event["provider"] == "astral"
    assert activity_id.split(":", 1)[1] in event["resource_id"]
    assert tail.returncode == 0
    # --once prints what there is and exits.
    once = run(["events", "tail", "--once"], env)
    assert once.returncode == 0
    assert "activity.created" in once.stdout and activity_id.split(":", 1)[1] in once.stdout


def test_backfill_watch_follows_the_index_until_it_is_done(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    env, _port, _token = connected_user(env, processes)
    worker = subprocess.Popen(
        [*GATEWAY, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    processes.append(worker)  # type: ignore[arg-type]
    result = run(["backfill", "watch", "--user", "ann", "--timeout-s", "90"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    (final,) = [line for line in lines if line.startswith("astral: done, ")]
    assert int(final.split(", ")[1].split()[0]) > 0  # the mock's seeded history, indexed
    assert lines[-1] == "backfill of ann: 1 done, 0 failed"
