/**
 * Readiness of eventfds, pidfds and raw sockets, from Node's own epoll.
 *
 * net.Socket refuses eventfds, pidfds and pty masters (ERR_INVALID_FD_TYPE), and a blocking read
 * through a pool thread would pin one of libuv's four threads per fd. A libuv poll handle puts the
 * fd into the event loop's epoll instead: one epoll per process, no extra thread.
 */
import { type Libc } from './libc';
import { type FdEvents, type FdWatch } from './types';

export function watchFd(libc: Libc, fd: number, onEvent: (events: FdEvents) => void): FdWatch {
  // koffi calls back with (status, events); its typings name only the events.
  const handle = libc.poll(fd, { readable: true, disconnect: true }, ((_status: number, events: FdEvents) => {
    try {
      onEvent(events);
    } catch (err) {
      // surface as an uncaught exception from JS, as an ordinary callback would, not inside native code
      queueMicrotask(() => {
        throw err;
      });
    }
  }) as unknown as (ev: FdEvents) => void);
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      handle.close();
    },
    unref() {
      handle.unref();
    },
  };
}
