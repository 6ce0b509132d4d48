/** The real `Native`: each method is a thin wrapper in the file named after its concern. */
import * as fd from './fd';
import { loadLibc } from './libc';
import * as mount from './mount';
import { forkDetached } from './fork';
import { releaseFilePages } from './pages';
import { watchFd } from './poll';
import * as proc from './process';
import * as socket from './socket';
import { spawn } from './spawn';
import * as tty from './tty';
import { type Native } from './types';

/** Loads libc (checking struct layouts) and binds every wrapper to it. */
export function createLinuxNative(): Native {
  const libc = loadLibc();
  return {
    setChildSubreaper: (on) => proc.setChildSubreaper(libc, on),
    isChildSubreaper: () => proc.isChildSubreaper(libc),
    setParentDeathSignal: (signal) => proc.setParentDeathSignal(libc, signal),
    waitPid: (pid, options) => proc.waitPid(libc, pid, options),
    waitPidfd: (pidfd) => proc.waitPidfd(libc, pidfd),
    forkDetached: (onMiddleFailed) => forkDetached(libc, onMiddleFailed),
    trimMalloc: () => void libc.malloc_trim(0),
    releaseFilePages: () => releaseFilePages(libc),
    pidfdOpen: (pid) => proc.pidfdOpen(libc, pid),
    pidfdSendSignal: (pidfd, signal) => proc.pidfdSendSignal(libc, pidfd, signal),
    spawn: (request) => spawn(libc, request),
    pipe: (options) => fd.pipe(libc, options),
    mkfifo: (path, mode) => fd.mkfifo(libc, path, mode),
    tryLockExclusive: (f) => fd.tryLockExclusive(libc, f),
    setPipeSize: (f, size) => fd.setPipeSize(libc, f, size),
    getPipeSize: (f) => fd.getPipeSize(libc, f),
    unreadBytes: (f) => fd.unreadBytes(libc, f),
    setNonBlocking: (f, on) => fd.setNonBlocking(libc, f, on),
    isNonBlocking: (f) => fd.isNonBlocking(libc, f),
    dup2: (oldFd, newFd, options) => fd.dup2(libc, oldFd, newFd, options?.closeOnExec ?? false),
    eventfd: (initial) => fd.eventfd(libc, initial),
    readEventfd: (f) => fd.readEventfd(libc, f),
    splice: (from, to, length) => fd.splice(libc, from, to, length),
    getPeerCred: (f) => socket.getPeerCred(libc, f),
    recvFd: (f) => socket.recvFd(libc, f),
    sendFd: (f, passed, data) => socket.sendFd(libc, f, passed, data),
    socketpair: () => socket.socketpair(libc),
    listenUnix: (path) => socket.listenUnix(libc, path),
    accept: (f) => socket.accept(libc, f),
    setWindowSize: (f, size) => tty.setWindowSize(libc, f, size),
    getWindowSize: (f) => tty.getWindowSize(libc, f),
    mount: (source, target, fstype, flags, data) => mount.mount(libc, source, target, fstype, flags, data),
    umount2: (target, flags) => mount.umount2(libc, target, flags),
    watchFd: (f, onEvent, interest) => watchFd(libc, f, onEvent, interest),
    close: (f) => fd.close(libc, f),
  };
}
