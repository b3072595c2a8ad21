"""Reading ahead: the next batch is read and mapped in a thread while the current one is stored.

Storing a batch mostly waits on the database, which releases the GIL; parsing and mapping the
next rows meanwhile keeps both busy, instead of one waiting for the other. The reading thread
never touches the database. An exception in it is raised in the consumer; closing the consumer
stops the thread and closes the batches' generator.
"""

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(batches: Generator[T, None, None], depth: int = 1) -> Iterator[T]:
    """The items of `batches`, produced up to `depth` ahead in a thread of their own."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:
            put(_Failure(error))
        finally:
            batches.close()

    thread = threading.Thread(target=produce, name="csv-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
