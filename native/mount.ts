/** mount(2) and umount2(2), for the container rootfs. */
import { check } from './check';
import { type Libc } from './libc';

export function mount(libc: Libc, source: string, target: string, fstype: string, flags: bigint, data: string | null): void {
  check(libc, libc.mount(source, target, fstype, Number(flags), data), 'mount', target);
}

export function umount2(libc: Libc, target: string, flags: number): void {
  check(libc, libc.umount2(target, flags), 'umount2', target);
}
