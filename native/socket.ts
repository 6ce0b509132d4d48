/**
 * Unix socket calls Node's net module lacks: SO_PEERCRED, receiving a file descriptor
 * (SCM_RIGHTS — runc sends the pty master to --console-socket), and a raw listening socket whose
 * accepted connections we can recvmsg from without libuv reading them first.
 */
import { check, checkAgain, keepAlive } from './check';
import { type Libc } from './libc';
import { CMSG_LEN_ONE_FD, CMSG_SPACE_ONE_FD, CMSGHDR, IOVEC, MSGHDR, SOCKADDR_UN, UCRED } from './structs';
import { type PeerCred, type ReceivedFd } from './types';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_NOSIGNAL = 0x4000;
/** runc sends the terminal's name with the fd; Go reads into a 4096-byte buffer. */
const DATA_SIZE = 4096;

const off = (layout: { offsets: Readonly<Record<string, number>> }, field: string): number => {
  const o = layout.offsets[field];
  if (o === undefined) throw new Error(`native: no field ${field}`);
  return o;
};

export function getPeerCred(libc: Libc, fd: number): PeerCred {
  const cred = Buffer.alloc(UCRED.size);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(UCRED.size);
  check(libc, libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len), 'getsockopt');
  return { pid: cred.readInt32LE(off(UCRED, 'pid')), uid: cred.readUInt32LE(off(UCRED, 'uid')), gid: cred.readUInt32LE(off(UCRED, 'gid')) };
}

export function recvFd(libc: Libc, socketFd: number): ReceivedFd | null {
  const data = Buffer.alloc(DATA_SIZE);
  const control = Buffer.alloc(CMSG_SPACE_ONE_FD);
  const { msg, iov } = messageHeader(libc, data, control);
  const n = checkAgain(libc, libc.recvmsg(socketFd, msg, MSG_CMSG_CLOEXEC), 'recvmsg');
  keepAlive(iov);
  if (n === null) return null;
  const controlLen = Number(msg.readBigUInt64LE(off(MSGHDR, 'msg_controllen')));
  const flags = msg.readInt32LE(off(MSGHDR, 'msg_flags'));
  const cmsgLen = controlLen >= CMSGHDR.size ? Number(control.readBigUInt64LE(off(CMSGHDR, 'cmsg_len'))) : 0;
  const level = control.readInt32LE(off(CMSGHDR, 'cmsg_level'));
  const type = control.readInt32LE(off(CMSGHDR, 'cmsg_type'));
  const fd = cmsgLen >= CMSG_LEN_ONE_FD ? control.readInt32LE(CMSGHDR.size) : -1;
  const wellFormed = (flags & MSG_CTRUNC) === 0 && level === SOL_SOCKET && type === SCM_RIGHTS && cmsgLen === CMSG_LEN_ONE_FD;
  if (!wellFormed) {
    if (fd >= 0 && level === SOL_SOCKET && type === SCM_RIGHTS) libc.close(fd);
    const what = n === 0 && cmsgLen === 0 ? 'the peer closed the connection before sending a file descriptor' : 'expected exactly one SCM_RIGHTS message with one file descriptor';
    throw Object.assign(new Error(`recvmsg: ${what}`), { code: 'EBADMSG', syscall: 'recvmsg' });
  }
  return { fd, data: data.subarray(0, n) };
}

/** Builds a msghdr over one data buffer and a control buffer; the Buffers must outlive the call. */
function messageHeader(libc: Libc, data: Buffer, control: Buffer): { msg: Buffer; iov: Buffer } {
  const iov = Buffer.alloc(IOVEC.size);
  iov.writeBigUInt64LE(libc.address(data), off(IOVEC, 'iov_base'));
  iov.writeBigUInt64LE(BigInt(data.length), off(IOVEC, 'iov_len'));
  const msg = Buffer.alloc(MSGHDR.size);
  msg.writeBigUInt64LE(libc.address(iov), off(MSGHDR, 'msg_iov'));
  msg.writeBigUInt64LE(1n, off(MSGHDR, 'msg_iovlen'));
  msg.writeBigUInt64LE(libc.address(control), off(MSGHDR, 'msg_control'));
  msg.writeBigUInt64LE(BigInt(control.length), off(MSGHDR, 'msg_controllen'));
  return { msg, iov };
}

export function sendFd(libc: Libc, socketFd: number, fd: number, data: Buffer): void {
  const payload = data.length > 0 ? data : Buffer.alloc(1); // a zero-length message cannot carry ancillary data
  const control = Buffer.alloc(CMSG_SPACE_ONE_FD);
  control.writeBigUInt64LE(BigInt(CMSG_LEN_ONE_FD), off(CMSGHDR, 'cmsg_len'));
  control.writeInt32LE(SOL_SOCKET, off(CMSGHDR, 'cmsg_level'));
  control.writeInt32LE(SCM_RIGHTS, off(CMSGHDR, 'cmsg_type'));
  control.writeInt32LE(fd, CMSGHDR.size);
  const { msg, iov } = messageHeader(libc, payload, control);
  check(libc, libc.sendmsg(socketFd, msg, MSG_NOSIGNAL), 'sendmsg');
  keepAlive(iov, payload, control);
}

export function socketpair(libc: Libc): [number, number] {
  const fds = new Int32Array(2);
  check(libc, libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 'socketpair');
  return [fds[0] ?? -1, fds[1] ?? -1];
}

export function listenUnix(libc: Libc, path: string): number {
  const name = Buffer.from(path);
  const pathOffset = off(SOCKADDR_UN, 'sun_path');
  if (name.length + 1 > SOCKADDR_UN.size - pathOffset) {
    throw Object.assign(new Error(`socket path too long (${name.length} bytes): ${path}`), { code: 'ENAMETOOLONG' });
  }
  const addr = Buffer.alloc(SOCKADDR_UN.size);
  addr.writeUInt16LE(AF_UNIX, off(SOCKADDR_UN, 'sun_family'));
  name.copy(addr, pathOffset);
  const fd = check(libc, libc.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 'socket');
  try {
    check(libc, libc.bind(fd, addr, pathOffset + name.length + 1), 'bind', path);
    check(libc, libc.listen(fd, 1), 'listen', path);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
  return fd;
}

export function accept(libc: Libc, listenFd: number): number | null {
  return checkAgain(libc, libc.accept4(listenFd, null, null, SOCK_CLOEXEC | SOCK_NONBLOCK), 'accept4');
}
