"""``cotclip propose`` against an LLM endpoint that fails: bounded retries, one line, exit 2, nothing lost."""

import time

import dspy  # noqa: F401  (imported up front: the time limits below measure the command, not imports)
import litellm  # noqa: F401

from cotclip.cli import main
from cotclip.optimizer.llm.server import free_port


def propose(api_base, out, capsys, *extra):
    started = time.monotonic()
    code = main(
        [
            "propose",
            "--lm",
            "openai/some-model",
            "--api-base",
            api_base,
            "--classes",
            "a,b",
            "--out",
            str(out),
            "--retries",
            "1",
            "--timeout",
            "1",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    assert time.monotonic() - started < 5
    assert "Traceback" not in captured.err
    return code, captured


def test_http_500_exits_2_with_one_line(fake_server, tmp_path, capsys):
    fake_server.mode = "500"
    code, captured = propose(fake_server.api_base, tmp_path, capsys)
    assert code == 2 and captured.err.startswith("error: LLM openai/some-model") and captured.err.count("\n") == 1
    assert len(fake_server.requests) >= 2  # retried


def test_refused_connection_exits_2(tmp_path, capsys):
    code, captured = propose(f"http://127.0.0.1:{free_port()}/v1", tmp_path, capsys)
    assert code == 2 and "127.0.0.1" in captured.err and captured.err.count("\n") == 1


def test_failure_after_a_candidate_keeps_it_and_the_log(fake_server, tmp_path, capsys):
    fake_server.mode = "ok"
    fake_server.switch_after = 1  # first request answers, the later ones fail with 500
    code, captured = propose(fake_server.api_base, tmp_path, capsys, "-n", "2")
    assert code == 2 and "failed" in captured.err
    assert (tmp_path / "candidate_01.json").is_file()
    assert len((tmp_path / "proposer_log.jsonl").read_text().splitlines()) == 1
