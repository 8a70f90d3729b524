"""The deployment files hold together (no Docker engine here, so they are checked as data).

docker-compose.yml is loaded with PyYAML, which swagger-ui-py already depends on.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from server.config import Settings

yaml = pytest.importorskip("yaml")

NODES = ("node1", "node2")


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    return loaded


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *NODES, "proxy"}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_start_order_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for node in NODES:
        deps = services[node]["depends_on"]
        assert deps == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert services["proxy"]["depends_on"] == {
        node: {"condition": "service_healthy"} for node in NODES
    }


def test_engine_versions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = re.match(r"postgres:(\d+)", services["postgres"]["image"])
    redis = re.match(r"redis:(\d+)", services["redis"]["image"])
    assert postgres and int(postgres.group(1)) >= 16
    assert redis and int(redis.group(1)) >= 7
    assert "--appendonly" in services["redis"]["command"]


def test_nodes_run_production_with_a_required_secret(compose: dict[str, Any]) -> None:
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    for node in NODES:
        env = compose["services"][node]["environment"]
        assert env["APP_ENV"] == "production"
        assert env["JWT_SECRET_KEY"].startswith("${JWT_SECRET_KEY:?")
        assert re.match(r"postgresql://[^@]+@postgres:5432/", env["DATABASE_URL"])
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert set(env) <= known, f"unknown settings: {set(env) - known}"


def test_trusted_proxy_is_the_proxy(compose: dict[str, Any]) -> None:
    proxy_ip = compose["services"]["proxy"]["networks"]["backend"]["ipv4_address"]
    for node in NODES:
        assert compose["services"][node]["environment"]["TRUSTED_PROXIES"] == proxy_ip


def test_nginx_upgrades_websockets_and_balances(repo_root: Path) -> None:
    conf = (repo_root / "deploy" / "nginx.conf").read_text()
    for node in NODES:
        assert f"server {node}:8000" in conf
    ws = conf[conf.index("location /ws") :]
    ws = ws[: ws.index("}")]
    assert "proxy_http_version 1.1;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "location = /metrics" in conf
    assert "/nginx-health" in conf
    assert conf.count("{") == conf.count("}")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_non_root_with_health_check(repo_root: Path) -> None:
    steps = _instructions((repo_root / "Dockerfile").read_text())
    froms = [arg for op, arg in steps if op == "FROM"]
    assert len(froms) >= 2 and froms[-1].startswith("python:3.11-slim")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(op == "HEALTHCHECK" and "/healthz" in arg for op, arg in steps)
    assert steps[-1] == ("CMD", '["python", "run.py"]')


def test_dockerfile_copies_every_package(repo_root: Path) -> None:
    """A new top-level package that the image forgets would fail only at import in prod."""
    copied = {
        shlex.split(arg)[0]
        for op, arg in _instructions((repo_root / "Dockerfile").read_text())
        if op == "COPY" and not arg.startswith("--from")
    }
    packages = {
        path.parent.name
        for path in repo_root.glob("*/__init__.py")
        if path.parent.name not in ("tests", "loadtests")
    }
    assert packages <= copied, f"not copied into the image: {packages - copied}"


def test_dockerignore_keeps_secrets_and_state_out(repo_root: Path) -> None:
    ignored = set((repo_root / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env"} <= ignored
