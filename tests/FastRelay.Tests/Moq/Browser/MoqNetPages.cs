namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// The ES modules headless Chromium runs (see <see cref="Quic.WebTransport.Browser.ChromiumHarness"/>): @moq/net
/// (bundled, imported as <c>/moq.js</c>) connecting to our relay over WebTransport only (its WebSocket fallback is
/// disabled, so a pass proves WebTransport), the certificate pinned by hash.
/// </summary>
internal static class MoqNetPages
{
    private const string Connect = """
        import { Moq } from "/moq.js";
        // @moq/net explains what it drops (a stream, a subscription) on the console: pass that to the test output.
        for (const level of ["warn", "error", "debug"]) {
          const original = console[level].bind(console);
          console[level] = (...parts) => { log("console." + level, ...parts.map(String)); original(...parts); };
        }
        const connect = p => Moq.Connection.connect(new URL(p.url), {
          websocket: { enabled: false },
          webtransport: { serverCertificateHashes: [{ algorithm: "sha-256", value: p.hash }] },
          signal: AbortSignal.timeout(20000),
        });
        const base64 = bytes => { let s = ""; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
        """;

    /// <summary>
    /// Subscriber: waits for the namespace to be announced (SUBSCRIBE_NAMESPACE), subscribes to the track and returns
    /// every frame it read (group, index in the group, arrival time in CLOCK_REALTIME µs, payload in base64) until
    /// <c>p.count</c> frames arrived or <c>p.seconds</c> passed.
    /// </summary>
    public const string Subscriber = Connect + """
        export default async function (p) {
          const connection = await connect(p);
          const result = { version: connection.version, frames: [] };
          const announced = connection.announced(Moq.Path.from(p.namespace));
          for (;;) {
            const entry = await announced.next();
            if (!entry) throw new Error("announcements ended before " + p.namespace + " was announced");
            log("announced", entry);
            if (entry.active) break;
          }
          const broadcast = connection.consume(Moq.Path.from(p.namespace));
          const track = broadcast.subscribe(p.track, 0);
          const deadline = performance.now() + p.seconds * 1000;
          const timeout = new Promise(resolve => setTimeout(() => resolve(undefined), p.seconds * 1000));
          while (result.frames.length < p.count && performance.now() < deadline) {
            const group = await Promise.race([track.recvGroup(), timeout]);
            if (!group) break;
            for (let index = 0; result.frames.length < p.count; index++) {
              const frame = await Promise.race([group.readFrame(), timeout]);
              if (!frame) break;
              result.frames.push({ g: group.sequence, o: index, t: Math.round((performance.timeOrigin + performance.now()) * 1000), p: base64(frame.payload) });
            }
          }
          track.close();
          connection.close();
          return result;
        }
        """;

    /// <summary>
    /// Publisher: announces <c>p.namespace</c> (PUBLISH_NAMESPACE), waits until a subscriber asks for <c>p.track</c>
    /// (the relay's SUBSCRIBE), then writes the given payloads (base64, <c>p.groups</c>: one array per group, one
    /// frame per object) every <c>p.intervalMs</c>, and stays until the subscriber leaves or <c>p.lingerMs</c> passed.
    /// </summary>
    public const string Publisher = Connect + """
        export default async function (p) {
          const connection = await connect(p);
          const broadcast = new Moq.Broadcast.Producer();
          const track = broadcast.createTrack(p.track);
          connection.publish(Moq.Path.from(p.namespace), broadcast);
          const result = { version: connection.version, sent: 0 };
          const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
          const deadline = performance.now() + p.seconds * 1000;
          while (!track.used.peek()) {
            if (performance.now() > deadline) throw new Error("nobody subscribed to " + p.track);
            await wait(10);
          }
          log("subscribed: publishing");
          for (const objects of p.groups) {
            const group = track.appendGroup();
            for (const object of objects) {
              const payload = Uint8Array.from(atob(object), c => c.charCodeAt(0));
              group.writeFrame({ payload, timestamp: Moq.Time.Timestamp.now() });
              result.sent++;
              await wait(p.intervalMs);
            }
            group.close();
          }
          await Promise.race([track.unused(), wait(p.lingerMs)]);
          result.stillUsed = track.used.peek();
          track.close();
          broadcast.close();
          connection.close();
          return result;
        }
        """;
}
