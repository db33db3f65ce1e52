/**
 * Which step of a container start a task is, by its name: the actors of a mount storm. A per-layer
 * idmapping containerd spends its mount syscalls in three places (measured on 2.1.4: 201 by the shim
 * preparing the rootfs, 207 by containerd itself reading the image's /etc/group through its own
 * idmapped mount, 42 by runc inside the container); kubelet and systemd mount around them.
 * Names are comm values, at most 15 characters: "containerd-shim-runc-v2" reads "containerd-shim".
 */
export const ACTORS = ['shim', 'runtime', 'oci-runtime', 'kubelet', 'systemd', 'other'] as const;
export type Actor = (typeof ACTORS)[number];

/** The runtime daemons and their clients (the CRI plugin runs inside containerd). */
const RUNTIMES = new Set(['containerd', 'dockerd', 'crio', 'ctr', 'nerdctl', 'podman', 'cri-dockerd', 'crictl']);
const OCI_RUNTIMES = ['runc', 'crun', 'youki', 'runsc'];

export function actorOf(comm: string): Actor {
  if (comm.startsWith('containerd-shim') || comm === 'conmon') return 'shim';
  if (RUNTIMES.has(comm)) return 'runtime';
  // runc re-execs itself as "runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]" while it sets up the container.
  if (OCI_RUNTIMES.some((r) => comm === r || comm.startsWith(`${r}:`))) return 'oci-runtime';
  if (comm === 'kubelet') return 'kubelet';
  if (comm === 'systemd' || comm.startsWith('systemd-') || comm.startsWith('(sd-')) return 'systemd';
  return 'other';
}
