/**
 * The landing page at `/`: the node's live state at a glance, from `./api/state` (NodeStateView).
 * One self-contained document: inline CSS, inline script, SVG charts; no CDN, no external request.
 * Every link and fetch is relative, so it works behind a path prefix, TLS and basic auth alike.
 */
import { escapeHtml } from '../web/html';

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6470; --bg: #f6f7f9; --card: #fff; --line: #d8dde3; --accent: #2f6fde; --bad: #c62828; --warn: #b26a00; --ok: #2e7d32; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ee; --muted: #9aa4b1; --bg: #111418; --card: #1a1f25; --line: #2c333c; --accent: #6ea0ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 1.2rem; margin: 0; }
header nav { margin-left: auto; display: flex; gap: 1rem; }
a { color: var(--accent); }
main { padding: 1rem 1.2rem; display: grid; gap: 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; }
.card h2 { font-size: .8rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 .3rem; }
.big { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.sub { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.state { font-weight: 600; white-space: nowrap; }
tr.holds.critical td.state { color: var(--bad); } tr.holds.warning td.state { color: var(--warn); } tr.holds.info td.state { color: var(--accent); }
tr:not(.holds) td.state { color: var(--ok); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .8rem; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; }
figcaption { font-size: .85rem; color: var(--muted); display: flex; justify-content: space-between; }
svg { width: 100%; height: 90px; display: block; }
svg polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg line { stroke: var(--line); }
footer { color: var(--muted); padding: 0 1.2rem 1rem; font-size: .8rem; }
.cannot-page { background: var(--card); border: 2px solid var(--bad); border-radius: 8px; padding: .6rem .9rem; }
.cannot-page h2 { color: var(--bad); font-size: 1rem; margin: 0 0 .3rem; }
.cannot-page ul { margin: .2rem 0; padding-left: 1.2rem; }
[hidden] { display: none !important; }
`;

const SCRIPT = `
const $ = (sel) => document.querySelector(sel);
const fmtInt = (v) => v == null ? '–' : Math.round(v).toLocaleString('en');
const fmtRate = (v) => v == null ? '–' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1);
const fmtSecs = (v) => v == null ? '–' : v >= 1 ? v.toFixed(2) + ' s' : v >= 0.001 ? (v * 1e3).toFixed(2) + ' ms' : (v * 1e6).toFixed(1) + ' µs';
function set(field, value, text) {
  for (const el of document.querySelectorAll('[data-field="' + field + '"]')) {
    el.textContent = text;
    el.dataset.value = value == null ? '' : String(value);
  }
}
function chart(id, xs, ys, fmt) {
  const fig = document.getElementById(id);
  const svg = fig.querySelector('svg');
  const pts = [];
  let max = 0;
  for (const y of ys) if (y != null && y > max) max = y;
  const t0 = xs[0], t1 = xs[xs.length - 1];
  const span = Math.max(1, t1 - t0);
  const scale = max > 0 ? max : 1;
  ys.forEach((y, i) => { if (y != null) pts.push(((xs[i] - t0) / span * 300).toFixed(1) + ',' + (85 - y / scale * 80).toFixed(1)); });
  svg.innerHTML = '<line x1="0" y1="85" x2="300" y2="85"></line><polyline points="' + pts.join(' ') + '"></polyline>';
  fig.querySelector('.max').textContent = 'max ' + fmt(ys.length ? max : null);
  fig.dataset.points = String(pts.length);
}
async function refresh() {
  let s;
  try {
    const r = await fetch('./api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
    s = await r.json();
  } catch (err) {
    $('#status').textContent = 'cannot reach the exporter: ' + err.message;
    return;
  }
  $('#status').textContent = '';
  // Whether this exporter can page at all: a banner naming what it lacks, text only.
  const page = $('#page');
  page.hidden = !s.page || s.page.capable;
  page.dataset.capable = s.page ? String(s.page.capable) : '';
  page.querySelector('ul').textContent = '';
  for (const b of (s.page && !s.page.capable ? s.page.blockers : [])) {
    const li = document.createElement('li');
    li.textContent = b.why;
    li.dataset.reason = b.reason;
    page.querySelector('ul').appendChild(li);
  }
  const n = s.node, t = s.topology;
  set('version', s.version, s.version);
  set('mounts', n.mounts, fmtInt(n.mounts));
  set('mountMax', n.mountMax, fmtInt(n.mountMax));
  set('utilisation', n.utilisation, n.utilisation == null ? '–' : (n.utilisation * 100).toFixed(1) + ' %');
  set('churn', n.churnPerSecond, fmtRate(n.churnPerSecond));
  set('syscalls', n.syscallsPerSecond, s.tracefs ? fmtRate(n.syscallsPerSecond) : 'off');
  set('lockWait', n.lockWaitSecondsPerSecond, s.tracefs ? (n.lockWaitSecondsPerSecond == null ? '–' : n.lockWaitSecondsPerSecond.toFixed(3)) : 'off');
  set('nsEstimate', n.namespaceSem.estimate, fmtSecs(n.namespaceSem.estimate));
  set('nsBaseline', n.namespaceSem.baseline, fmtSecs(n.namespaceSem.baseline));
  set('mlEstimate', n.mountLock.estimate, fmtSecs(n.mountLock.estimate));
  set('mlBaseline', n.mountLock.baseline, fmtSecs(n.mountLock.baseline));
  set('overlayMax', n.overlayLayersMax, fmtInt(n.overlayLayersMax));
  set('idmapped', n.idmappedMounts, fmtInt(n.idmappedMounts));
  set('sockets', t.sockets, fmtInt(t.sockets));
  set('numaNodes', t.numaNodes, fmtInt(t.numaNodes));
  set('smt', t.smt, t.smt == null ? '–' : t.smt ? 'on' : 'off');
  set('cpuModel', t.cpuModel, t.cpuModel || '–');
  set('instance', t.systemModel, [t.systemVendor, t.systemModel].filter(Boolean).join(' ') || '–');
  set('samples', s.samples, fmtInt(s.samples));
  set('updated', s.now, new Date(s.now).toLocaleTimeString());
  const label = (c) => (c.phase === 'firing' ? 'FIRING' : c.phase === 'pending' ? 'PENDING' : c.holds ? 'HOLDS' : 'ok');
  const rows = s.conditions.map((c) => '<tr class="' + (c.holds ? 'holds ' : '') + c.severity + '" data-alert="' + c.alert + '" data-holds="' + c.holds + '" data-phase="' + (c.phase || '') + '"><td class="state">' + label(c) + '</td><td>' + c.alert + '<div class="sub">' + c.severity + (c.phase ? ', evaluated by this node' : '') + '</div></td><td class="sub"></td></tr>');
  $('#conditions tbody').innerHTML = rows.join('');
  s.conditions.forEach((c, i) => { $('#conditions tbody').rows[i].cells[2].textContent = c.detail; });
  // Image names come from container bundles: text only, never markup.
  const images = $('#images tbody');
  images.textContent = '';
  for (const i of s.images) {
    const tr = images.insertRow();
    tr.insertCell().textContent = i.image;
    tr.insertCell().textContent = fmtInt(i.starts);
    tr.insertCell().textContent = i.startLayers === undefined ? '–' : fmtInt(i.startLayers);
  }
  if (s.images.length === 0) images.insertRow().insertCell().textContent = s.collectors.containers ? 'no container started in the last 5 minutes' : 'the containers collector is off';
  const deepest = $('#deepest tbody');
  deepest.textContent = '';
  for (const d of s.deepest) {
    const tr = deepest.insertRow();
    tr.insertCell().textContent = d.image;
    tr.insertCell().textContent = fmtInt(d.layers);
    tr.insertCell().textContent = fmtInt(d.containers);
  }
  if (s.deepest.length === 0) deepest.insertRow().insertCell().textContent = s.collectors.containers ? 'no running container whose rootfs overlay was found' : 'the containers collector is off';
  const c = s.startCost;
  set('cpus', c.cpus, fmtInt(c.cpus));
  set('maskedPerStart', c.maskedPathsPerStart, c.maskedPathsPerStart == null ? '–' : c.maskedPathsPerStart.toFixed(0));
  set('perCpuMaskedPerStart', c.perCpuMaskedPathsPerStart, c.perCpuMaskedPathsPerStart == null ? '–' : c.perCpuMaskedPathsPerStart.toFixed(0));
  set('idmapsPerStart', c.idmapsPerStart, c.idmapsPerStart == null ? '–' : c.idmapsPerStart.toFixed(0));
  set('madePerStart', c.madePerStart, c.madePerStart == null ? '–' : c.madePerStart.toFixed(0));
  set('tableCopied', c.tableCopied, fmtInt(c.tableCopied));
  set('copyPerStart', c.copySecondsPerStart, c.copySecondsPerStart == null ? '–' : (c.copySecondsPerStart * 1000).toFixed(2) + ' ms');
  set('cause', c.cause, c.cause ? c.cause.replace(/_/g, ' ') : 'no container started in the window');
  const byRuntime = Object.entries(s.starts.byRuntime).filter(([, n]) => n > 0);
  set('startsByRuntime', byRuntime.length, byRuntime.length === 0 ? 'none yet' : byRuntime.map(([r, n]) => r + ' ' + fmtInt(n)).join(', '));
  set('startSignal', s.starts.signal, s.starts.signal === 'runtime' ? "the runtimes' own records" : s.starts.signal === 'kernel' ? 'new mount namespaces (no runtime directory is watched: any unshare counts)' : '–');
  const held = s.conditions.filter((c) => c.holds).length;
  set('held', held, held === 0 ? 'none' : String(held));
  const h = s.history;
  chart('chart-mounts', h.t, h.mounts, fmtInt);
  chart('chart-churn', h.t, h.churn, fmtRate);
  chart('chart-syscalls', h.t, h.syscalls, fmtRate);
  chart('chart-lockwait', h.t, h.lockWait, (v) => v == null ? '–' : v.toFixed(3) + ' s/s');
  chart('chart-ns', h.t, h.ns, fmtSecs);
  chart('chart-ml', h.t, h.ml, fmtSecs);
  document.body.dataset.loaded = String(s.samples);
}
refresh();
setInterval(refresh, 2000);
`;

function card(title: string, big: string, sub: string): string {
  return `<div class="card"><h2>${title}</h2><div class="big">${big}</div><div class="sub">${sub}</div></div>`;
}

function figure(id: string, caption: string): string {
  return `<figure id="${id}"><figcaption><span>${caption}</span><span class="max"></span></figcaption><svg viewBox="0 0 300 90" preserveAspectRatio="none" role="img" aria-label="${caption}"></svg></figure>`;
}

export function landingPage(telemetryPath: string): string {
  const metrics = escapeHtml('.' + telemetryPath);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mountstorm — node state</title><style>${STYLE}</style></head>
<body>
<header><h1>mountstorm</h1><span class="sub">v<span data-field="version"></span> · <span data-field="instance">–</span></span><span id="status" class="sub"></span>
<nav><a href="${metrics}">Metrics</a><a href="./api/state">State (JSON)</a><a href="./healthz">Health</a></nav></header>
<main>
<section id="page" class="cannot-page" hidden><h2>This exporter cannot page on a mount storm</h2><ul></ul><p class="sub">It still shows the table, churn and lock wait, and can warn; the storm page (MountStormImminent) needs all three inputs. See deploy/README.md for the privileges that give them.</p></section>
<section class="cards">
${card('Mount table', '<span data-field="mounts">–</span>', '<span data-field="utilisation">–</span> of fs.mount-max <span data-field="mountMax">–</span>')}
${card('Churn', '<span data-field="churn">–</span>/s', 'mounts appearing, last 30 s')}
${card('Mount syscalls', '<span data-field="syscalls">–</span>/s', 'exact, from tracefs, last 30 s')}
${card('Measured lock wait', '<span data-field="lockWait">–</span> s/s', 'in lock contention inside mount syscalls (tracefs)')}
${card('namespace_sem wait', '<span data-field="nsEstimate">–</span>', 'above its quiet baseline of <span data-field="nsBaseline">–</span>')}
${card('mount_lock wait', '<span data-field="mlEstimate">–</span>', 'per path lookup, above baseline <span data-field="mlBaseline">–</span>')}
${card('Overlays', '<span data-field="overlayMax">–</span> layers', 'deepest overlay; <span data-field="idmapped">–</span> idmapped mounts')}
${card('Topology', '<span data-field="sockets">–</span> × socket', '<span data-field="numaNodes">–</span> NUMA node(s), SMT <span data-field="smt">–</span><br><span data-field="cpuModel">–</span>')}
</section>
<section><h2>Alert conditions now <span class="sub">(held: <span data-field="held">–</span>; the one alert spec over this node's samples: what holds now, and for the node's own alerts whether it has held for their <code>for</code>)</span></h2>
<table id="conditions"><thead><tr><th>state</th><th>alert</th><th>condition</th></tr></thead><tbody></tbody></table></section>
<section><h2>Images driving mount churn now <span class="sub">(last 5 minutes, from the bundles' config.json; layers mounted: starts × their rootfs overlay's lower layers)</span></h2>
<table id="images"><thead><tr><th>image</th><th>starts</th><th>layers mounted</th></tr></thead><tbody></tbody></table></section>
<section id="start-cost"><h2>What a container start costs on this node <span class="sub">(before any storm: the mounts every start makes here, and what the starts of the last 10 s made)</span></h2>
<table><tbody>
<tr><td>per-CPU masked paths (kubelet and containerd since 2025-2026: one thermal_throttle mask per CPU)</td><td><span data-field="cpus">–</span> mounts per start, one per CPU of this host</td></tr>
<tr><td>masked paths per start seen (linux.maskedPaths of the bundles)</td><td><span data-field="maskedPerStart">–</span>, <span data-field="perCpuMaskedPerStart">–</span> of them per CPU</td></tr>
<tr><td>idmapped mounts per start (tracefs: a runtime that idmaps every layer makes 2 per layer)</td><td><span data-field="idmapsPerStart">–</span></td></tr>
<tr><td>new mounts per start (tracefs: mounts, binds and clones made in every mount namespace, the container's own included; each attached and detached again)</td><td><span data-field="madePerStart">–</span></td></tr>
<tr><td>mounts every new mount namespace copies (the watched table, under namespace_sem)</td><td><span data-field="tableCopied">–</span>, <span data-field="copyPerStart">–</span> per start copying (tracefs: time inside unshare)</td></tr>
<tr><td>what the storm page would name for these starts</td><td><span data-field="cause">–</span></td></tr>
<tr><td>container starts since the exporter started, by runtime</td><td><span data-field="startsByRuntime">–</span></td></tr>
<tr><td>where starts are counted (the per-start figures divide by them)</td><td><span data-field="startSignal">–</span></td></tr>
</tbody></table></section>
<section><h2>Deepest images running <span class="sub">(lower layers of their rootfs overlay)</span></h2>
<table id="deepest"><thead><tr><th>image</th><th>layers</th><th>containers</th></tr></thead><tbody></tbody></table></section>
<section><h2>Last 10 minutes</h2><div class="charts">
${figure('chart-mounts', 'Mount table entries')}
${figure('chart-churn', 'Churn, mounts/s')}
${figure('chart-syscalls', 'Mount syscalls/s (tracefs)')}
${figure('chart-lockwait', 'Measured lock wait, s/s (tracefs)')}
${figure('chart-ns', 'namespace_sem wait above baseline')}
${figure('chart-ml', 'mount_lock wait above baseline')}
</div></section>
</main>
<footer>Updated <span data-field="updated">–</span> · sample <span data-field="samples">–</span> · refreshes every 2 s</footer>
<script>${SCRIPT}</script>
</body></html>
`;
}
