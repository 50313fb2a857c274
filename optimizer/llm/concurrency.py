"""Concurrent, budgeted LLM calls whose results come back in request order.

:class:`LLMExecutor` wraps one :class:`~cotclip.optimizer.llm.lm.LLMClient` and a
:class:`~cotclip.optimizer.llm.usage.Budget`::

    executor = LLMExecutor(client, budget=Budget(max_calls=20), concurrency=4)
    answers = executor.complete_all([LLMRequest(signature, inputs, seed=i) for i in range(8)])
    # answers[i] is the Completion of request i, or the CotclipError it ended with
    # (LLMServerError: the server failed; BudgetExhaustedError: no budget was left for it)
    systems = executor.map(lambda index: conversation(index), range(4))  # ordered, same error slots
    executor.usage                      # every call so far, cached ones included

* **Order.** ``complete_all`` and ``map`` return one slot per input, in input order,
  whatever order the answers arrive in; callers record them in that order, so a run
  with the same seeds and cached answers records the same things at any concurrency.
* **Concurrency.** At most ``concurrency`` paid calls are in flight at once (a
  semaphore around the network call, so ``map`` functions may themselves call
  ``complete`` or ``complete_all``). ``concurrency=1`` sends one call at a time,
  in input order: exactly the serial behaviour.
* **Cache.** A call whose answer is in the client's response cache is answered at
  once, free, and needs no budget. With a cache, identical requests in flight at the
  same time are sent once; the others get the answer as a cached call (as they
  would have one after the other).
* **Budget.** A paid call is sent only after it *reserved* room in the budget
  (:class:`BudgetLedger`): calls are reserved exactly; for a token or dollar limit
  each call in flight is charged the largest cost of a paid call seen so far, and
  until one was seen only one paid call is in flight. A reservation that does not
  fit waits while calls are in flight (their real cost may leave room) and fails
  with :class:`BudgetExhaustedError` when none is. So no more calls are paid than
  the budget allows, at any concurrency. When the budget runs out part-way, which
  of the concurrent requests got the last calls depends on arrival order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from cotclip.optimizer.llm.lm import Completion, LLMClient
from cotclip.optimizer.llm.usage import Budget, CallUsage, Usage
from cotclip.systems.errors import CotclipError, InputError

__all__ = ["LLMRequest", "BudgetLedger", "LLMExecutor"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class LLMRequest:
    """One call: a DSPy signature, its inputs, and the sampling temperature and seed."""

    signature: Any
    inputs: Mapping[str, Any] = field(default_factory=dict)
    temperature: float | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The signature's name, the input names, temperature and seed (not the inputs' text)."""
        return {
            "signature": getattr(self.signature, "__name__", str(self.signature)),
            "inputs": sorted(self.inputs),
            "temperature": self.temperature,
            "seed": self.seed,
        }


class BudgetLedger:
    """Thread-safe running :class:`Usage` with reservations (see the module docstring)."""

    def __init__(self, budget: Budget | None = None, usage: Usage | None = None) -> None:
        self.budget = budget or Budget()
        self._usage = usage or Usage()
        self._in_flight = 0
        self._largest_tokens: int | None = None
        self._largest_usd: float | None = None
        self._changed = threading.Condition()

    @property
    def usage(self) -> Usage:
        """Every settled call so far (cached ones included)."""
        with self._changed:
            return self._usage

    def spent(self) -> str | None:
        """Why no further paid call is allowed right now, or ``None`` (reservations not counted)."""
        with self._changed:
            return self.budget.spent_by(self._usage)

    def _room_beside_in_flight(self) -> bool:
        """Whether one more call fits with every call in flight charged its worst seen cost."""
        if self._in_flight == 0:
            return True
        limited_tokens = self.budget.max_tokens is not None
        limited_usd = self.budget.max_usd is not None
        if (limited_tokens and self._largest_tokens is None) or (limited_usd and self._largest_usd is None):
            return False  # what a call costs is not known yet: one at a time
        base, n = self._usage, self._in_flight
        projected = Usage(
            base.calls + n,
            base.cached_calls,
            base.prompt_tokens + n * (self._largest_tokens or 0),
            base.completion_tokens,
            None if base.usd is None else base.usd + n * (self._largest_usd or 0.0),
            base.latency_s,
        )
        return self.budget.spent_by(projected) is None

    def reserve(self) -> None:
        """Reserve room for one paid call, waiting while calls in flight leave it undecided.

        Raises :class:`BudgetExhaustedError` as soon as the settled usage spends the
        budget (usage never shrinks, so waiting cannot help).
        """
        with self._changed:
            while True:
                self.budget.check(self._usage)
                if self._room_beside_in_flight():
                    self._in_flight += 1
                    return
                self._changed.wait()

    def settle(self, call: CallUsage | None) -> None:
        """End a reservation: ``call`` is what the call cost, ``None`` when it failed unpaid."""
        with self._changed:
            self._in_flight -= 1
            if call is not None:
                self._add(call)
            self._changed.notify_all()

    def add_cached(self, call: CallUsage) -> None:
        """Count a call answered from the cache (no reservation needed: it is free)."""
        with self._changed:
            self._add(call)

    def _add(self, call: CallUsage) -> None:
        self._usage = self._usage.add(call)
        if not call.cached:
            self._largest_tokens = max(self._largest_tokens or 0, call.tokens)
            if call.usd is not None:
                self._largest_usd = max(self._largest_usd or 0.0, call.usd)


class LLMExecutor:
    """Concurrent, budgeted calls to one :class:`LLMClient`, results in request order.

    See the module docstring for order, concurrency, cache and budget guarantees.
    ``ledger`` lets several executors share one budget; by default one is made from
    ``budget``.
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        budget: Budget | None = None,
        concurrency: int = 1,
        ledger: BudgetLedger | None = None,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"LLM concurrency must be >= 1 (got {concurrency}); pass --llm-concurrency 1 or more")
        self.client = client
        self.concurrency = concurrency
        self.ledger = ledger or BudgetLedger(budget)
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._pending: dict[str, Future] = {}

    @property
    def usage(self) -> Usage:
        """Every call so far, cached ones included."""
        return self.ledger.usage

    def complete(self, request: LLMRequest) -> Completion:
        """One budgeted call; thread-safe. Raises LLMServerError or BudgetExhaustedError."""
        key, lm_kwargs = self.client.key_of(
            request.signature, dict(request.inputs), temperature=request.temperature, seed=request.seed
        )
        hit = self.client.cached(key)
        if hit is not None:
            self.ledger.add_cached(hit.usage)
            return hit
        leader, future = self._join(key)
        if not leader:
            completion = future.result()  # the same request, sent by another thread
            shared = replace(completion, usage=replace(completion.usage, usd=0.0, latency_s=0.0, cached=True))
            self.ledger.add_cached(shared.usage)
            return shared
        try:
            completion = self._send(request, key, lm_kwargs)
        except BaseException as exc:
            self._finish(key, future, error=exc)
            raise
        self._finish(key, future, result=completion)
        return completion

    def _join(self, key: str) -> tuple[bool, Future]:
        """``(True, new future)`` for the first caller of ``key``; ``(False, its future)`` for the others."""
        if self.client.cache is None:
            return True, Future()  # without a cache, equal requests are paid each time (as one by one)
        with self._lock:
            if key in self._pending:
                return False, self._pending[key]
            future = self._pending[key] = Future()
            return True, future

    def _finish(
        self, key: str, future: Future, *, result: Completion | None = None, error: BaseException | None = None
    ) -> None:
        with self._lock:
            if self._pending.get(key) is future:
                del self._pending[key]
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _send(self, request: LLMRequest, key: str, lm_kwargs: dict[str, Any]) -> Completion:
        with self._slots:
            self.ledger.reserve()
            try:
                completion = self.client.send(request.signature, dict(request.inputs), key, lm_kwargs)
            except BaseException:
                self.ledger.settle(None)
                raise
            self.ledger.settle(completion.usage)
            return completion

    def complete_all(self, requests: Sequence[LLMRequest]) -> list[Completion | CotclipError]:
        """Each request's completion, or the CotclipError it ended with, in request order."""
        return self.map(self.complete, requests)

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R | CotclipError]:
        """``function(item)`` for every item, up to ``concurrency`` at once; results in item order.

        A :class:`CotclipError` raised by one item takes its slot; any other exception
        (a bug) is raised once every item has finished.
        """
        return list(self.imap(function, items))

    def imap(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R | CotclipError]:
        """Like :meth:`map`, yielding each result as soon as it and all before it are done."""
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            for item in items:
                yield _guarded(function, item)
            return
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="cotclip-llm")
        futures = [pool.submit(_guarded, function, item) for item in items]
        finished = False
        try:
            for future in futures:
                yield future.result()
            finished = True
        finally:
            # interrupted (Ctrl-C, a bug, the caller stopped early): drop what has not started, do not wait
            pool.shutdown(wait=finished, cancel_futures=not finished)


def _guarded(function: Callable[[T], R], item: T) -> R | CotclipError:
    try:
        return function(item)
    except CotclipError as exc:
        return exc
