"""Reading ahead: a connector's batches produced in a background thread while the runner stores
the previous one, so the source's work (a database's scan, a page's download) overlaps with
ours. At most `depth` batches wait; the order, the errors and the end are passed on unchanged.

Only for connectors that declare `prefetch = True`: their `read` must not use Django's database
connection (it is per thread), as the table connectors don't.
"""

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetched(Iterator):
    def __init__(self, iterable: Iterable, depth: int = 1):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=self._produce, args=(iter(iterable),), name="sync-prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterator) -> None:
        try:
            for item in source:
                if not self._put(item):
                    break
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(_Raised(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                # A generator is closed in the thread that ran it (its cleanup closes the
                # connection it opened).
                close()
            self._put(_DONE)

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Raised):
            self._finished = True
            self._thread.join()
            raise item.error
        return item

    def close(self) -> None:
        """Stop reading ahead and wait for the producer to close the source."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        self._thread.join()
        self._finished = True
