/**
 * Readiness of eventfds, pidfds and raw sockets, from Node's own epoll.
 *
 * net.Socket refuses eventfds, pidfds and pty masters (ERR_INVALID_FD_TYPE), and a blocking read
 * through a pool thread would pin one of libuv's four threads per fd. A libuv poll handle puts the
 * fd into the event loop's epoll instead: one epoll per process, no extra thread.
 */
import { type Libc } from './libc';
import { type FdEvents, type FdWatch } from './types';

export function watchFd(libc: Libc, fd: number, onEvent: (events: FdEvents) => void, interest: { readable?: boolean; writable?: boolean } = { readable: true }): FdWatch {
  // koffi calls back with (status, events); its typings name only the events.
  const callback = ((_status: number, events: FdEvents) => {
    try {
      onEvent(events);
    } catch (err) {
      // surface as an uncaught exception from JS, as an ordinary callback would, not inside native code
      queueMicrotask(() => {
        throw err;
      });
    }
  }) as unknown as (ev: FdEvents) => void;
  const options = (i: { readable?: boolean; writable?: boolean }) => ({ readable: i.readable ?? false, writable: i.writable ?? false, disconnect: true });
  const handle = libc.poll(fd, options(interest), callback);
  let closed = false;
  return {
    update(next) {
      if (closed) return;
      handle.stop();
      if (next.readable || next.writable) handle.start(options(next), callback);
    },
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
