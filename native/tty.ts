/** Terminal window size on a pty master (what ResizePty does). */
import { check } from './check';
import { type Libc } from './libc';
import { WINSIZE } from './structs';

const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;

export function setWindowSize(libc: Libc, fd: number, size: { rows: number; cols: number }): void {
  const ws = Buffer.alloc(WINSIZE.size);
  // the kernel's fields are 16-bit: containerd's uint32 values are truncated, as the Go shim does
  ws.writeUInt16LE(size.rows & 0xffff, WINSIZE.offsets['ws_row'] ?? 0);
  ws.writeUInt16LE(size.cols & 0xffff, WINSIZE.offsets['ws_col'] ?? 2);
  check(libc, libc.ioctl(fd, TIOCSWINSZ, 'void *', ws), 'ioctl');
}

export function getWindowSize(libc: Libc, fd: number): { rows: number; cols: number } {
  const ws = Buffer.alloc(WINSIZE.size);
  check(libc, libc.ioctl(fd, TIOCGWINSZ, 'void *', ws), 'ioctl');
  return { rows: ws.readUInt16LE(WINSIZE.offsets['ws_row'] ?? 0), cols: ws.readUInt16LE(WINSIZE.offsets['ws_col'] ?? 2) };
}
