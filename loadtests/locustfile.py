"""Locust model of the CLUTCH app against one Streamhub node (or the proxy in front of many).

Two kinds of user:

- `Viewer` (HTTP + one WebSocket): logs in, browses and searches the feed, opens videos
  (details, a counted view, comments, and a `video:{id}` subscription on its socket), likes,
  comments, follows creators, and refreshes its token now and then.
- `Watcher` (WebSocket only): subscribes to the most popular videos and reports, for every
  event it receives, the time from publication to receipt. The channel offset `<ms>-<seq>`
  carries the broker's clock, which is this machine's clock on a loopback run. It also
  measures the whole loop of its own comments: POST, then the `new_comment` frame back.

WebSocket figures appear in Locust's tables as request type `WS`: `event <type>` (publish to
receipt) and `comment -> new_comment` (HTTP POST to frame).

Configuration (environment):
  STREAMHUB_SEED_FILE  JSON written by loadtests/run_loadtest.py: {"password", "usernames",
                       "video_ids"}; without it, each user registers an account of its own.
  STREAMHUB_WS_URL     defaults to the host with ws:// and /ws.

Run: `make loadtest`, or by hand: `locust -f loadtests/locustfile.py --host http://127.0.0.1:8000`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from typing import Any

import gevent
import gevent.event
import websocket  # websocket-client: plain sockets, cooperative under Locust's gevent
from locust import HttpUser, between, task
from locust.env import Environment

SEARCH_WORDS = ["live", "music", "gaming", "tutorial", "vlog", "travel", "cooking", "news"]
PASSWORD_FOR_NEW_ACCOUNTS = "Loadtest-Pass1"

_seed: dict[str, Any] = {}
_usernames: itertools.cycle[str] | None = None
_video_ids: list[str] = []
_author_ids: list[str] = []


def _load_seed() -> None:
    global _usernames
    path = os.environ.get("STREAMHUB_SEED_FILE")
    if path and os.path.exists(path):
        with open(path) as handle:
            _seed.update(json.load(handle))
        if _seed.get("usernames"):
            _usernames = itertools.cycle(_seed["usernames"])
        _video_ids.extend(_seed.get("video_ids", []))


_load_seed()


def ws_url(host: str) -> str:
    explicit = os.environ.get("STREAMHUB_WS_URL")
    if explicit:
        return explicit
    return host.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws"


def fire(env: Environment, name: str, started: float, *, length: int = 0,
         exception: Exception | None = None, elapsed_ms: float | None = None) -> None:  # fmt: skip
    env.events.request.fire(
        request_type="WS",
        name=name,
        response_time=elapsed_ms if elapsed_ms is not None else (time.time() - started) * 1000,
        response_length=length,
        exception=exception,
        context={},
    )


class Socket:
    """One WebSocket with a reader greenlet; events are reported to Locust as they arrive."""

    def __init__(self, env: Environment, url: str, token: str | None) -> None:
        self.env = env
        self.waiting: dict[str, tuple[float, gevent.event.AsyncResult]] = {}
        self.subscribed: set[str] = set()
        self.acked = gevent.event.Event()
        started = time.time()
        query = f"?token={token}" if token else ""
        try:
            self.ws = websocket.create_connection(url + query, timeout=10)
        except Exception as exc:
            fire(env, "connect", started, exception=exc)
            raise
        fire(env, "connect", started)
        self.reader = gevent.spawn(self._read)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def _read(self) -> None:
        while True:
            try:
                raw = self.ws.recv()
            except Exception:
                return
            if not raw:
                return
            received = time.time()
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            kind = message.get("type")
            offset = message.get("offset")
            if kind == "subscribed":
                self.subscribed.add(message.get("channel", ""))
                self.acked.set()
            if kind in ("video_update", "new_comment") and isinstance(offset, str):
                published_ms = int(offset.split("-", 1)[0])
                fire(self.env, f"event {kind}", received, length=len(raw),
                     elapsed_ms=max(0.0, received * 1000 - published_ms))  # fmt: skip
            if kind == "new_comment":
                content = (message.get("comment") or {}).get("content", "")
                pending = self.waiting.pop(content, None)
                if pending is not None:
                    pending[1].set(received)

    def close(self) -> None:
        self.reader.kill(block=False)
        try:
            self.ws.close()
        except Exception:
            pass


class ClutchUser(HttpUser):
    abstract = True
    access: str | None = None
    refresh_token: str | None = None

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"} if self.access else {}

    def sign_in(self) -> None:
        if _usernames is not None:
            body = {"login": next(_usernames), "password": _seed["password"]}
            resp = self.client.post("/api/auth/login", json=body, name="/api/auth/login")
        else:
            name = f"lt_{uuid.uuid4().hex[:12]}"
            body = {"username": name, "email": f"{name}@example.com",
                    "password": PASSWORD_FOR_NEW_ACCOUNTS}  # fmt: skip
            resp = self.client.post("/api/auth/register", json=body, name="/api/auth/register")
        if resp.ok:
            tokens = resp.json()["tokens"]
            self.access, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def ensure_videos(self) -> None:
        if _video_ids:
            return
        resp = self.client.get("/api/videos?limit=50&sort=popular", name="/api/videos")
        if resp.ok:
            for video in resp.json()["videos"]:
                _video_ids.append(video["id"])
                _author_ids.append(video["author"]["id"])

    def popular_video(self) -> str | None:
        if not _video_ids:
            return None
        # Skewed toward the first (most popular) videos, as real traffic is.
        return _video_ids[min(int(random.expovariate(1 / 8)), len(_video_ids) - 1)]


class Viewer(ClutchUser):
    weight = 10
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.sign_in()
        self.ensure_videos()
        self.socket: Socket | None = None
        self.watching: str | None = None
        try:
            self.socket = Socket(self.environment, ws_url(self.host), self.access)
        except Exception:
            self.socket = None

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()

    @task(10)
    def browse(self) -> None:
        page = random.randint(1, 3)
        self.client.get(f"/api/videos?page={page}&limit=20", name="/api/videos",
                        headers=self.auth())  # fmt: skip

    @task(3)
    def search(self) -> None:
        self.client.get(f"/api/videos?q={random.choice(SEARCH_WORDS)}", name="/api/videos?q",
                        headers=self.auth())  # fmt: skip

    @task(6)
    def open_video(self) -> None:
        video_id = self.popular_video()
        if video_id is None:
            return
        resp = self.client.get(f"/api/videos/{video_id}", name="/api/videos/{id}",
                               headers=self.auth())  # fmt: skip
        if resp.ok:
            author = resp.json()["author"]["id"]
            if author not in _author_ids:
                _author_ids.append(author)
        self.client.post(f"/api/videos/{video_id}/view", json={"watch_time_seconds": 30},
                         name="/api/videos/{id}/view", headers=self.auth())  # fmt: skip
        self.client.get(f"/api/videos/{video_id}/comments?limit=20",
                        name="/api/videos/{id}/comments", headers=self.auth())  # fmt: skip
        if self.socket is not None:
            if self.watching is not None:
                self.socket.send({"type": "unsubscribe", "channel": f"video:{self.watching}"})
            self.socket.send({"type": "subscribe", "channel": f"video:{video_id}"})
            self.watching = video_id

    @task(3)
    def like(self) -> None:
        video_id = self.popular_video()
        if video_id is None or not self.access:
            return
        action = random.choice(["like", "like", "remove", "dislike"])
        self.client.post(f"/api/videos/{video_id}/like", json={"action": action},
                         name="/api/videos/{id}/like", headers=self.auth())  # fmt: skip

    @task(1)
    def comment(self) -> None:
        video_id = self.popular_video()
        if video_id is None or not self.access:
            return
        self.client.post(f"/api/videos/{video_id}/comments",
                         json={"content": f"Nice one! {uuid.uuid4().hex[:8]}"},
                         name="/api/videos/{id}/comments [post]", headers=self.auth())  # fmt: skip

    @task(1)
    def follow(self) -> None:
        if not _author_ids or not self.access:
            return
        author = random.choice(_author_ids)
        with self.client.post(f"/api/users/{author}/follow", name="/api/users/{id}/follow",
                              headers=self.auth(), catch_response=True) as resp:  # fmt: skip
            if resp.status_code in (400, 409):  # already following, or following oneself
                resp.success()
        if random.random() < 0.5:
            with self.client.delete(f"/api/users/{author}/follow",
                                    name="/api/users/{id}/follow", headers=self.auth(),
                                    catch_response=True) as resp:  # fmt: skip
                if resp.status_code in (400, 404):
                    resp.success()

    @task(1)
    def refresh(self) -> None:
        if not self.refresh_token:
            return
        resp = self.client.post("/api/auth/refresh", json={"refresh_token": self.refresh_token},
                                name="/api/auth/refresh")  # fmt: skip
        if resp.ok:
            tokens = resp.json()
            self.access, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    @task(1)
    def relogin(self) -> None:
        self.sign_in()


class Watcher(ClutchUser):
    """Measures event latency: passive (every event) and active (own comment round trip)."""

    weight = 1
    wait_time = between(2.0, 4.0)

    def on_start(self) -> None:
        self.sign_in()
        self.ensure_videos()
        self.socket = Socket(self.environment, ws_url(self.host), self.access)
        self.channels = list(dict.fromkeys(_video_ids[:5]))
        for video_id in self.channels:
            self.socket.send({"type": "subscribe", "channel": f"video:{video_id}"})
        # Probe only once every channel is live, or the first probes would time out.
        deadline = time.time() + 10
        while len(self.socket.subscribed) < len(self.channels) and time.time() < deadline:
            self.socket.acked.clear()
            self.socket.acked.wait(timeout=1)

    def on_stop(self) -> None:
        self.socket.close()

    @task
    def comment_round_trip(self) -> None:
        if not self.channels or not self.access:
            return
        video_id = random.choice(self.channels)
        nonce = f"latency probe {uuid.uuid4().hex}"
        arrived: gevent.event.AsyncResult = gevent.event.AsyncResult()
        started = time.time()
        self.socket.waiting[nonce] = (started, arrived)
        resp = self.client.post(f"/api/videos/{video_id}/comments", json={"content": nonce},
                                name="/api/videos/{id}/comments [post]",
                                headers=self.auth())  # fmt: skip
        if not resp.ok:
            self.socket.waiting.pop(nonce, None)
            return
        try:
            received = arrived.get(timeout=5)
        except gevent.Timeout as exc:
            self.socket.waiting.pop(nonce, None)
            fire(self.environment, "comment -> new_comment", started, exception=exc)
            return
        fire(self.environment, "comment -> new_comment", started,
             elapsed_ms=(received - started) * 1000)  # fmt: skip
