/**
 * C struct layouts (x86_64 / aarch64 Linux, LP64) the native wrappers read and write as Buffers.
 *
 * The wrappers use plain Buffers with these offsets (cheap, no marshalling). At load, libc.ts
 * declares the same structs to koffi and `checkLayouts` compares koffi's C ABI layout with the
 * offsets below, so a wrong offset fails loudly at start-up instead of corrupting memory.
 */

/** A struct layout: its size and the offsets of the fields we touch. */
export interface Layout {
  readonly size: number;
  readonly offsets: Readonly<Record<string, number>>;
}

/** siginfo_t as waitid(2) fills it for SIGCHLD (the `_sigchld` arm of the union). */
export const SIGINFO: Layout = { size: 128, offsets: { si_signo: 0, si_errno: 4, si_code: 8, si_pid: 16, si_uid: 20, si_status: 24 } };

/** struct ucred (SO_PEERCRED). */
export const UCRED: Layout = { size: 12, offsets: { pid: 0, uid: 4, gid: 8 } };

/** struct winsize (TIOCSWINSZ). */
export const WINSIZE: Layout = { size: 8, offsets: { ws_row: 0, ws_col: 2, ws_xpixel: 4, ws_ypixel: 6 } };

/** struct iovec. */
export const IOVEC: Layout = { size: 16, offsets: { iov_base: 0, iov_len: 8 } };

/** struct msghdr. */
export const MSGHDR: Layout = {
  size: 56,
  offsets: { msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 },
};

/** struct cmsghdr; data follows at CMSG_DATA = 16. */
export const CMSGHDR: Layout = { size: 16, offsets: { cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 } };

/** struct sockaddr_un. */
export const SOCKADDR_UN: Layout = { size: 110, offsets: { sun_family: 0, sun_path: 2 } };

/** CMSG_SPACE(sizeof(int)): one cmsghdr carrying one fd, padded to 8 bytes. */
export const CMSG_SPACE_ONE_FD = 24;
/** CMSG_LEN(sizeof(int)). */
export const CMSG_LEN_ONE_FD = 20;

/** siginfo si_code values for SIGCHLD. */
export const CLD = { EXITED: 1, KILLED: 2, DUMPED: 3, TRAPPED: 4, STOPPED: 5, CONTINUED: 6 } as const;

/** Compares a koffi-computed layout (size, offsetof) with ours; throws naming the first mismatch. */
export function checkLayout(name: string, ours: Layout, size: number, offsetOf: (field: string) => number): void {
  if (size !== ours.size) throw new Error(`native: struct ${name} is ${size} bytes for the C ABI, ${ours.size} in native/structs.ts`);
  for (const [field, offset] of Object.entries(ours.offsets)) {
    const abi = offsetOf(field);
    if (abi !== offset) throw new Error(`native: ${name}.${field} is at offset ${abi} for the C ABI, ${offset} in native/structs.ts`);
  }
}
