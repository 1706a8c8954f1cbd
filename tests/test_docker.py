"""The Docker image, built and run: /healthz, a signed /owner, a non-root user, and the SQLite
database on the /data volume outliving a restart and the container itself.

Marked ``docker`` and skipped where no Docker engine answers ``docker info``. The base image is
``BATON_DOCKER_BASE`` if set, else ``python:3.11-slim`` (present or pullable), else the stand-in
``docker/local-base.sh`` makes from Debian packages (run here when missing, as root with
debootstrap, and kept afterwards like a pulled base). The test removes the image, containers
and volume it made. Behind an intercepting HTTPS proxy pip in the build needs
its CA: ``BATON_BUILD_CA`` names a PEM file, else the CAs added to this host under
/usr/local/share/ca-certificates are passed. They go to the Dockerfile's build stage only
(``BUILD_CA_PEM``), never into the image.

The lock file test needs no engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.slack.standin import FakeSlack
from tests.conftest import ROOT, SIGNING_SECRET, free_port
from tests.slack_signing import post_signed, slash_command_body

UPSTREAM_BASE = "python:3.11-slim"
LOCAL_BASE = "baton-local-base:bookworm"
LOCAL_BASE_SCRIPT = ROOT / "docker" / "local-base.sh"
HOST_CAS = Path("/usr/local/share/ca-certificates")
BUILD_STAGE = "label=baton.stage=build"


# -- the lock file ------------------------------------------------------------------------------


def test_lock_pins_every_dependency_within_its_bounds_with_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = [b for b in re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M) if "==" in b.split("\n")[0]]
    pins = {canonicalize_name(b.split("==")[0]): b.split("==")[1].split()[0] for b in blocks}
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert pins and not unhashed, f"pins without hashes: {unhashed}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in map(Requirement, project["dependencies"]):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep.name} is not in requirements.lock: refresh it (README)"
        assert dep.specifier.contains(pins[name]), f"{dep.name}=={pins[name]} is outside {dep.specifier}"


def test_dockerfile_installs_from_the_lock_on_a_base_given_as_build_argument() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={UPSTREAM_BASE}" in dockerfile
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "BEGIN CERTIFICATE" not in dockerfile


# -- the image ----------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args[:3])} … exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    return proc


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("info", timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def has_image(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def base_image() -> str:
    """The base to build on: the given one, python:3.11-slim, or the local stand-in."""
    chosen = os.environ.get("BATON_DOCKER_BASE")
    if chosen:
        return chosen
    if has_image(UPSTREAM_BASE):
        return UPSTREAM_BASE
    try:
        if docker("pull", UPSTREAM_BASE, timeout=300, check=False).returncode == 0:
            return UPSTREAM_BASE
    except subprocess.TimeoutExpired:
        pass
    if has_image(LOCAL_BASE):
        return LOCAL_BASE
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip(
            f"{UPSTREAM_BASE} cannot be pulled and there is no {LOCAL_BASE}: run "
            f"`sudo docker/local-base.sh` (needs debootstrap) or set BATON_DOCKER_BASE"
        )
    made = subprocess.run(
        ["sh", str(LOCAL_BASE_SCRIPT), LOCAL_BASE], capture_output=True, text=True, timeout=900
    )
    assert made.returncode == 0, f"docker/local-base.sh failed:\n{made.stdout[-2000:]}{made.stderr[-3000:]}"
    return LOCAL_BASE


def build_ca() -> str | None:
    """PEM text of the CAs pip in the build stage may need (an intercepting proxy's)."""
    named = os.environ.get("BATON_BUILD_CA")
    if named:
        return Path(named).read_text()
    found = sorted(HOST_CAS.rglob("*.crt")) if HOST_CAS.is_dir() else []
    return "".join(p.read_text() for p in found) or None


def build_stage_images() -> set[str]:
    return set(docker("image", "ls", "-a", "-q", "--filter", BUILD_STAGE).stdout.split())


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if not engine_answers():
        pytest.skip("no Docker engine answers `docker info` (install docker.io and start dockerd)")
    base = base_image()
    tag = f"baton-test:{uuid.uuid4().hex[:12]}"
    stages_before = build_stage_images()
    args = ["build", "--build-arg", f"BASE_IMAGE={base}", "-t", tag]
    ca = build_ca()
    if ca:
        args += ["--build-arg", f"BUILD_CA_PEM={ca}"]
    try:
        docker(*args, str(ROOT), timeout=1200)
        yield tag
    finally:
        docker("image", "rm", "-f", tag, check=False)
        leftovers = build_stage_images() - stages_before
        if leftovers:
            docker("image", "rm", "-f", *sorted(leftovers), check=False)


class Container:
    """`docker run` of the image on the host network, with a named volume on /data."""

    def __init__(self, image: str, fake: FakeSlack) -> None:
        self.image = image
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.volume = f"baton-test-{uuid.uuid4().hex[:12]}"
        self.names: list[str] = []
        self.env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.url,
            "PORT": str(self.port),
        }
        docker("volume", "create", self.volume)

    @property
    def name(self) -> str:
        return self.names[-1]

    def run(self) -> None:
        self.names.append(f"baton-test-{uuid.uuid4().hex[:12]}")
        env = [arg for k, v in self.env.items() for arg in ("-e", f"{k}={v}")]
        docker(
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            "host",
            "-v",
            f"{self.volume}:/data",
            *env,
            self.image,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if docker("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip() != "true":
                raise AssertionError(f"container stopped:\n{self.logs()}")
            time.sleep(0.3)
        raise AssertionError(f"container never became healthy:\n{self.logs()}")

    def logs(self) -> str:
        out = docker("logs", self.name, check=False)
        return (out.stdout + out.stderr)[-4000:]

    def command(self, command: str, text: str = "") -> dict[str, Any]:
        """A Slack-signed slash command; returns the ephemeral answer."""
        resp = post_signed(f"{self.url}/slack/events", slash_command_body(command, text), SIGNING_SECRET)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        assert body["response_type"] == "ephemeral", body
        return body

    def remove(self) -> None:
        for name in self.names:
            docker("rm", "-f", name, check=False)
        docker("volume", "rm", "-f", self.volume, check=False)


@pytest.fixture
def container(image: str, fake_slack: FakeSlack) -> Iterator[Container]:
    c = Container(image, fake_slack)
    try:
        c.run()
        yield c
    finally:
        c.remove()


def listed(c: Container) -> str:
    return str(c.command("/incident", "list")["text"])


@pytest.mark.docker
def test_image_serves_owner_as_non_root_and_keeps_incidents_on_the_volume(
    container: Container, fake_slack: FakeSlack
) -> None:
    c = container
    assert httpx.get(f"{c.url}/healthz", timeout=5).status_code == 200

    owner = json.dumps(c.command("/owner")["blocks"])
    for area in ("model-quality", "infra-deploy", "data", "user-experience", "policy-guardrails"):
        assert f"`{area}`" in owner

    uid = docker("exec", c.name, "id", "-u").stdout.strip()
    assert uid.isdigit() and uid != "0", uid

    title = "Docker restart keeps this"
    c.command("/incident", f"P2 model-quality {title}")
    fake_slack.wait_for(
        lambda: next((ch for ch in fake_slack.channels.values() if ch.name.startswith("inc-")), None),
        timeout=15,
    )
    assert title in listed(c)

    docker("restart", c.name, timeout=60)
    c.wait_healthy()
    assert title in listed(c), c.logs()

    # Not the container's own layer: a new container on the same volume still has it.
    docker("rm", "-f", c.name)
    c.run()
    assert title in listed(c), c.logs()
