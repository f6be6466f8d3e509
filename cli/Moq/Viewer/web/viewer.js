// The `fastrelay moq relay --web` viewer: subscribes to ?namespace=..&track=.. through the relay over WebTransport
// with @moq/net, and shows objects received, gaps and one-way latency live. Objects stamped by `fastrelay moq publish`
// (magic "MQFR", see docs/moq.md) carry a track sequence number and a send time; other objects are only counted.
// The current figures are also in window.viewerStats and, when the page is framed, posted to the parent window.
import { Moq } from "./moq.js";

const query = new URLSearchParams(location.search);
const namespace = query.get("namespace") ?? query.get("n") ?? "live/cam1";
const trackName = query.get("track") ?? query.get("t") ?? "video";
const $ = id => document.getElementById(id);
const log = text => { const line = `${new Date().toISOString().slice(11, 23)} ${text}\n`; $("log").textContent = (line + $("log").textContent).slice(0, 20000); };

const stats = { namespace, track: trackName, status: "starting", received: 0, groups: 0, bytes: 0, missing: 0, gaps: 0, duplicates: 0, unstamped: 0, lastLatencyMs: null, p50LatencyMs: null, p99LatencyMs: null };
window.viewerStats = stats;
const latencies = []; // the last 1000, in ms
let highestSequence = -1n;

function show() {
  $("status").textContent = stats.status;
  $("received").textContent = stats.received;
  $("groups").textContent = stats.groups;
  $("bytes").textContent = stats.bytes;
  $("missing").textContent = stats.missing;
  $("gaps").textContent = stats.gaps ? `${stats.gaps} gap(s), ${stats.duplicates} duplicate(s)` : "";
  $("unstamped").textContent = stats.unstamped;
  $("latency").textContent = stats.lastLatencyMs === null ? "-" : `${stats.lastLatencyMs.toFixed(1)} / ${stats.p50LatencyMs.toFixed(1)} / ${stats.p99LatencyMs.toFixed(1)}`;
  if (window.parent !== window) window.parent.postMessage({ viewerStats: { ...stats } }, "*");
}

// The fastrelay test header (big-endian): "MQFR", version 1, flags, 2 reserved, sequence u64 @8, group @16,
// object @24, send time µs (CLOCK_REALTIME) @32, length u32 @40, checksum @44.
function count(payload) {
  stats.received++;
  stats.bytes += payload.byteLength;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload.byteLength < 52 || view.getUint32(0) !== 0x4D514652 || payload[4] !== 1) { stats.unstamped++; return; }
  const sequence = view.getBigUint64(8);
  if (sequence <= highestSequence) stats.duplicates++; // or late: a subscriber in order never sees one
  else {
    if (highestSequence >= 0n && sequence > highestSequence + 1n) { stats.missing += Number(sequence - highestSequence - 1n); stats.gaps++; }
    highestSequence = sequence;
  }
  const nowMicros = (performance.timeOrigin + performance.now()) * 1000;
  const latency = (nowMicros - Number(view.getBigInt64(32))) / 1000;
  latencies.push(latency);
  if (latencies.length > 1000) latencies.shift();
  const sorted = [...latencies].sort((a, b) => a - b);
  stats.lastLatencyMs = latency;
  stats.p50LatencyMs = sorted[Math.floor(0.5 * (sorted.length - 1))];
  stats.p99LatencyMs = sorted[Math.floor(0.99 * (sorted.length - 1))];
}

async function run() {
  const config = await (await fetch("config.json", { cache: "no-store" })).json();
  const url = new URL(`https://${location.hostname}:${config.port}${config.path}`);
  $("track").textContent = `${namespace} ${trackName}`;
  $("relay").textContent = url.href;
  stats.status = "connecting"; show();
  const connection = await Moq.Connection.connect(url, {
    websocket: { enabled: false }, // WebTransport only: the relay speaks no WebSocket
    webtransport: config.certificateSha256 ? { serverCertificateHashes: [{ algorithm: "sha-256", value: config.certificateSha256 }] } : {},
  });
  log(`connected, ${connection.version}`);
  stats.status = `waiting for ${namespace} to be published`; show();
  const announced = connection.announced(Moq.Path.from(namespace));
  for (;;) {
    const entry = await announced.next();
    if (!entry) throw new Error("the relay ended the namespace subscription");
    if (entry.active && entry.path === "") break;
  }
  const track = connection.consume(Moq.Path.from(namespace)).subscribe(trackName, 0);
  stats.status = "receiving"; show();
  log(`subscribed to ${namespace} ${trackName}`);
  for (;;) {
    const group = await track.recvGroup();
    if (!group) break;
    stats.groups++;
    for (;;) {
      const frame = await group.readFrame();
      if (!frame) break;
      count(frame.payload);
      show();
    }
  }
  stats.status = "track ended"; show();
}

run().catch(e => { stats.status = `error: ${e && e.message || e}`; $("status").className = "error"; show(); log(String(e && e.stack || e)); });
