"""The review server's JSON endpoints, driven over HTTP without a browser."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.review.rundata import load_review_data
from cotclip.optimizer.review.server import make_server
from cotclip.optimizer.review.session import ReviewSession, load_version


@pytest.fixture
def server(run_dir: Path):
    record = load_version(run_dir)
    session = ReviewSession(run_dir, record, load_review_data(run_dir, record.system))
    with make_server(session, port=0) as running:
        yield running


def _get(server, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post(server, path: str, payload, content_type: str = "application/json") -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(server.url.rstrip("/") + path, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _versions(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "versions").glob("*.json"))


def test_binds_to_localhost_only_and_serves_the_page(server):
    assert server.httpd.server_address[0] == "127.0.0.1"
    with urllib.request.urlopen(server.url, timeout=10) as response:
        assert response.headers.get_content_type() == "text/html"
        assert b"cotclip review" in response.read()


def test_state_shows_the_system_and_flags_the_broken_rule(server, broken_system):
    status, state = _get(server, "/api/state")
    assert status == 200
    assert state["version"] == "0001" and state["run"] == "demo"
    assert state["system"]["classes"] == broken_system.classes
    assert 0.0 <= state["val_accuracy"] <= 1.0 and state["val_n"] > 0 and state["train_n"] > 0
    assert len(state["evidence"]) == len(broken_system.classes) * len(broken_system.groups)
    first = next(
        e
        for e in state["evidence"]
        if e["class"] == broken_system.classes[0] and e["group"] == broken_system.groups[0].name
    )
    assert first["disagrees"] and first["disagreeing"]


def test_thumbnails_are_labelled_placeholders_for_synthetic_images(server):
    status, thumbs = _get(server, "/api/thumbs?pos=0,3")
    assert status == 200 and set(thumbs) == {"0", "3"}
    assert all(t["placeholder"] and t["uri"].startswith("data:image/jpeg;base64,") for t in thumbs.values())
    status, error = _get(server, "/api/thumbs?pos=99999")
    assert status == 400 and "out of range" in error["error"]
    assert _get(server, "/api/thumbs?pos=a")[0] == 400


def test_preview_scores_the_edit_without_writing(server, run_dir: Path, broken_system):
    fix = {
        "op": "set_rule",
        "class": broken_system.classes[0],
        "group": broken_system.groups[0].name,
        "option": (broken_system.rule(broken_system.classes[0], broken_system.groups[0].name) - 1)
        % len(broken_system.groups[0].options),
    }
    status, result = _post(server, "/api/preview", {"edits": [fix]})
    assert status == 200 and 0.0 <= result["val_accuracy"] <= 1.0
    assert _versions(run_dir) == ["0001.json"]


def test_save_writes_a_human_edit_version_and_reviews_it_next(server, run_dir: Path, broken_system):
    group = broken_system.groups[1].name
    edits = {
        "edits": [
            {"op": "lock_group", "group": group},
            {"op": "set_option", "group": group, "index": 0, "text": "reworded"},
        ],
        "notes": ["group 1 checked by hand"],
    }
    status, saved = _post(server, "/api/save", edits)
    assert status == 200 and saved["version"] == "0002" and saved["parent"] == "0001"
    record = {r.version_id: r for r in RunDir(run_dir).load_versions()}["0002"]
    assert record.move == "human-edit" and record.parent == "0001"
    assert record.details == edits
    assert record.system.locks.groups == [group]
    assert record.system.group(group).options[0] == "reworded"
    assert record.system.notes[-1] == "group 1 checked by hand"
    assert record.val_accuracy == saved["val_accuracy"]
    assert _get(server, "/api/state")[1]["version"] == "0002"
    assert not (run_dir / ".lock").exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"edits": [{"op": "set_rule", "class": "nobody", "group": "color", "option": 0}]}, "unknown class"),
        ({"edits": [{"op": "set_option", "group": "color", "index": 0, "text": ""}]}, "option text is empty"),
        ({"edits": [{"op": "set_option", "group": "color", "index": 99, "text": "x"}]}, "out of range"),
        ({"edits": "everything"}, "edits"),
    ],
)
def test_bad_edits_answer_400_with_one_line_and_write_nothing(server, run_dir: Path, payload, message):
    for endpoint in ("/api/preview", "/api/save"):
        status, error = _post(server, endpoint, payload)
        assert status == 400 and message in error["error"] and "\n" not in error["error"]
    assert _versions(run_dir) == ["0001.json"]


def test_posts_must_be_json(server, run_dir: Path):
    status, error = _post(server, "/api/save", b"edits=1", content_type="application/x-www-form-urlencoded")
    assert status == 400 and "Content-Type: application/json" in error["error"]
    assert _post(server, "/api/save", b"{not json")[0] == 400
    assert _post(server, "/api/nothing", {})[0] == 404
    assert _versions(run_dir) == ["0001.json"]


def test_save_refuses_while_an_optimizer_holds_the_run(server, run_dir: Path):
    (run_dir / ".lock").write_text(json.dumps({"pid": 1, "since": "now"}))  # PID 1 is always alive
    status, error = _post(server, "/api/save", {"notes": ["x"]})
    assert status == 400 and "in use by process 1" in error["error"]
    assert _versions(run_dir) == ["0001.json"]


def test_requests_naming_another_host_are_refused(server, run_dir: Path):
    port = server.httpd.server_address[1]
    for method, path, body in (("GET", "/api/state", None), ("POST", "/api/save", b'{"notes": ["x"]}')):
        request = urllib.request.Request(
            server.url.rstrip("/") + path,
            data=body,
            method=method,
            headers={"Host": f"evil.example:{port}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 403
    assert _versions(run_dir) == ["0001.json"]
    request = urllib.request.Request(server.url + "api/state", headers={"Host": f"localhost:{port}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_a_browser_that_hangs_up_leaves_no_traceback(server, capfd):
    import socket
    import struct
    import time

    host, port = server.httpd.server_address[:2]
    for request in (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port,  # hangs up before the page
        b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port,
    ):  # hangs up mid-request
        client = socket.create_connection((host, port))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        client.sendall(request)
        client.close()
    time.sleep(0.5)
    assert _get(server, "/api/state")[0] == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err
