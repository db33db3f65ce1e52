/**
 * The kernel facilities mountstorm can be told to act as if the kernel refused, to see (and test)
 * every fallback on a kernel that has them all: MOUNTSTORM_KERNEL_REFUSE is a comma-separated list
 * of `nsfs` (the NS_MNT_* ioctls, 6.12+), `fanotify-mount` (fanotify mount events, 6.15+) and
 * `listmount` (listmount/statmount, 6.8+). A refused call fails as the older kernel's would.
 */
export type Facility = 'nsfs' | 'fanotify-mount' | 'listmount';

const list = new Set(
  (process.env.MOUNTSTORM_KERNEL_REFUSE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export function refused(f: Facility): boolean {
  return list.has(f);
}
