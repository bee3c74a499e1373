package io.tether.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.parsetools.RecordParser;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;

/**
 * Live connections at scale, measured on running nodes: what one stream read by many connections costs
 * per delivered event, and what idle connections cost in heap and in heartbeat CPU. The connections are
 * held by Vert.x clients in this process (Netty, two event loops), so thousands of them cost the client
 * little; the nodes' CPU comes from {@code /proc/<pid>/stat} ({@code BENCH_PIDS}), as in
 * {@link StreamLoad}.
 *
 * <pre>
 * ConnectionBench fanout URLS READERS RATE WARMUP_SECONDS MEASURE_SECONDS
 * </pre>
 *
 * One stream, READERS live readers at its tail spread round-robin over the nodes (URLS, comma-separated),
 * every other one SSE and the rest WebSocket; one writer appends {@code t=<nanos>;} at RATE events/s
 * through the first node. After the warm-up, the measured window gives append→delivery latency over
 * every delivery (p50, p99, p99.9, max), deliveries against acknowledged appends × readers ({@code
 * missing} counts what no reader saw within 10 s of the window's end), and the nodes' CPU per delivered
 * event and per append.
 *
 * <pre>
 * ConnectionBench idle URL PID CONNECTIONS STREAMS IDLE_SECONDS
 * </pre>
 *
 * One node: STREAMS streams, then CONNECTIONS idle live connections on them (half SSE, half WebSocket,
 * in two equal steps; {@code BENCH_IDLE_TRANSPORT=sse} or {@code ws} for one transport only). Live heap (full GC, then {@code jcmd GC.class_histogram}, live objects only) is
 * measured before and after each step: heap per connection, per step, and the classes that make it up.
 * The node's CPU is read over IDLE_SECONDS with no connection and again over IDLE_SECONDS with all of
 * them open and nothing written: the difference is what keeping them open costs (heartbeats, pings,
 * timers), given per 10,000 connections per second and per heartbeat the clients received.
 */
public final class ConnectionBench {

  private final Vertx vertx;
  private final HttpClient http;
  private final WebSocketClient ws;
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final List<AutoCloseable> held = new ArrayList<>();
  private final AtomicLong heartbeats = new AtomicLong();

  private ConnectionBench(int connections) {
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
    http = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(30_000).setIdleTimeout(0)
        .setKeepAliveTimeout(1), new PoolOptions().setHttp1MaxSize(connections + 16).setMaxWaitQueueSize(-1));
    ws = vertx.createWebSocketClient(new WebSocketClientOptions().setConnectTimeout(30_000)
        .setMaxConnections(connections + 16).setIdleTimeout(0));
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 6 && args[0].equals("fanout")) {
      int readers = Integer.parseInt(args[2]);
      new ConnectionBench(readers).fanout(args[1].split(","), readers, Double.parseDouble(args[3]),
          Integer.parseInt(args[4]), Integer.parseInt(args[5]));
    } else if (args.length == 6 && args[0].equals("idle")) {
      int connections = Integer.parseInt(args[3]);
      new ConnectionBench(connections).idle(args[1], args[2], connections, Integer.parseInt(args[4]),
          Integer.parseInt(args[5]));
    } else {
      System.err.println("usage: ConnectionBench fanout URLS READERS RATE WARMUP_SECONDS MEASURE_SECONDS\n"
          + "       ConnectionBench idle URL PID CONNECTIONS STREAMS IDLE_SECONDS");
      System.exit(2);
    }
    System.exit(0);
  }

  // -------------------------------------------------------------------------------------------- fan-out

  private void fanout(String[] bases, int readers, double rate, int warmup, int measure) throws Exception {
    String stream = "fanout-" + run;
    create(bases[0], stream);
    Recorder latency = new Recorder(3);
    AtomicLong delivered = new AtomicLong();
    AtomicLong measureStart = new AtomicLong(Long.MAX_VALUE);
    Deliveries deliveries = new Deliveries(latency, delivered, measureStart);
    progress("fan-out: opening " + readers + " readers of one stream over " + bases.length + " node(s)");
    open(readers, i -> bases[i % bases.length], i -> stream, i -> i % 2 == 0, deliveries);

    // One writer on a fixed schedule through the first node.
    AtomicLong acked = new AtomicLong();
    AtomicLong ackedInWindow = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    Map<String, AtomicLong> failures = new java.util.concurrent.ConcurrentSkipListMap<>();
    AtomicLong measureEnd = new AtomicLong(Long.MAX_VALUE);
    URI target = URI.create(bases[0] + "/v1/stream/" + stream);
    long periodNanos = (long) (1e9 / rate);
    long[] due = {System.nanoTime()};
    Runnable[] tick = new Runnable[1];
    tick[0] = () -> {
      long sent = System.nanoTime();
      http.request(new RequestOptions().setMethod(HttpMethod.POST).setHost(target.getHost()).setPort(target.getPort())
              .setURI(target.getPath()).putHeader("Content-Type", "text/plain"))
          .compose(req -> req.send(Buffer.buffer("t=" + sent + ";")))
          .compose(resp -> resp.body().map(b -> resp.statusCode()))
          .onComplete(ar -> {
            if (ar.succeeded() && ar.result() / 100 == 2) {
              acked.incrementAndGet();
              if (sent >= measureStart.get() && sent < measureEnd.get()) {
                ackedInWindow.incrementAndGet();
              }
            } else if (sent >= measureStart.get() && sent < measureEnd.get()) {
              failed.incrementAndGet();
              String why = ar.succeeded() ? "http_" + ar.result() : ar.cause().getClass().getSimpleName();
              failures.computeIfAbsent(why, k -> new AtomicLong()).incrementAndGet();
            }
          });
      due[0] += periodNanos;
      long delay = Math.max(1, (due[0] - System.nanoTime()) / 1_000_000);
      vertx.setTimer(delay, t -> tick[0].run());
    };
    vertx.runOnContext(v -> tick[0].run());

    progress("fan-out: " + warmup + " s warm-up at " + rate + " appends/s");
    Thread.sleep(warmup * 1000L);
    long[] pids = StreamLoad.serverPids();
    latency.reset();
    delivered.set(0);
    StreamLoad.CpuSnapshot cpuBefore = StreamLoad.cpuSnapshot(pids);
    long start = System.nanoTime();
    measureStart.set(start);
    progress("fan-out: measuring " + measure + " s");
    Thread.sleep(measure * 1000L);
    long[] used = StreamLoad.cpuSnapshot(pids).since(cpuBefore);
    measureEnd.set(System.nanoTime());
    long appends = ackedInWindow.get();
    long expected = appends * readers;
    long waitUntil = System.currentTimeMillis() + 10_000;
    while (delivered.get() < expected && System.currentTimeMillis() < waitUntil) {
      Thread.sleep(50);
    }
    Histogram h = latency.getIntervalHistogram();
    long cpu = used[0];
    long got = delivered.get();
    System.out.printf(Locale.ROOT, "RESULT fanout nodes=%d readers=%d rate=%.0f appends=%d failed_appends=%d "
            + "deliveries=%d missing=%d deliver_p50_ms=%.2f deliver_p99_ms=%.2f deliver_p999_ms=%.2f deliver_max_ms=%.2f "
            + "deliveries_per_s=%.0f cpu_ms=%d jit_ms=%d cpu_us_per_delivery=%.2f cpu_us_per_append=%.0f "
            + "append_failures=%s%n",
        bases.length, readers, rate, appends, failed.get(), got, Math.max(0, expected - got),
        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
        h.getValueAtPercentile(99.9) / 1000.0, h.getMaxValue() / 1000.0, got / (measure * 1.0), cpu,
        used[1], got == 0 ? 0.0 : cpu * 1000.0 / got,
        appends == 0 ? 0.0 : cpu * 1000.0 / appends, failures.isEmpty() ? "none" : failures.toString().replace(" ", ""));
  }

  // ----------------------------------------------------------------------------------------------- idle

  private void idle(String base, String pid, int connections, int streams, int idleSeconds) throws Exception {
    String transport = System.getenv().getOrDefault("BENCH_IDLE_TRANSPORT", "mixed");
    List<String> names = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      names.add("idle-" + run + "-" + i);
      create(base, names.get(i));
    }
    long[] pids = {Long.parseLong(pid)};
    Deliveries none = new Deliveries(new Recorder(3), new AtomicLong(), new AtomicLong(Long.MAX_VALUE));
    // Each stream read once live before the baseline, so that what the steps add is the connections.
    open(streams, i -> base, names::get, i -> i % 2 == 0, none);
    closeAll();
    awaitConnections(base, 0);

    Map<String, long[]> h0 = histogram(pid);
    progress("idle: CPU over " + idleSeconds + " s with no connection");
    long[] cpuIdle = cpuOver(pids, idleSeconds);
    int step = connections / 2;
    progress("idle: opening " + step + " connections (step 1)");
    java.util.function.IntPredicate sse = switch (transport) {
      case "sse" -> i -> true;
      case "ws" -> i -> false;
      default -> i -> i % 2 == 0;
    };
    open(step, i -> base, i -> names.get(i % streams), sse, none);
    awaitConnections(base, step);
    Map<String, long[]> h1 = histogram(pid);
    progress("idle: opening " + step + " connections (step 2)");
    open(step, i -> base, i -> names.get((step + i) % streams), sse, none);
    awaitConnections(base, 2 * step);
    Map<String, long[]> h2 = histogram(pid);
    // Code that runs once per heartbeat interval is compiled late: one interval's worth of warm-up.
    progress("idle: " + idleSeconds + " s with " + 2 * step + " idle connections (warm-up), then " + idleSeconds
        + " s measured");
    cpuOver(pids, idleSeconds);
    long beatsBefore = heartbeats.get();
    long[] cpuHeld = cpuOver(pids, idleSeconds);
    long beats = heartbeats.get() - beatsBefore;
    closeAll();
    awaitConnections(base, 0);
    long closing = System.nanoTime();
    awaitSockets(base);
    long closedAfterMs = (System.nanoTime() - closing) / 1_000_000;
    Map<String, long[]> h3 = histogram(pid);

    long total0 = total(h0);
    long total1 = total(h1);
    long total2 = total(h2);
    long total3 = total(h3);
    System.out.printf(Locale.ROOT, "RESULT idle step=1 connections=%d delta_bytes=%d per_connection_bytes=%d%n",
        step, total1 - total0, (total1 - total0) / step);
    System.out.printf(Locale.ROOT, "RESULT idle step=2 connections=%d delta_bytes=%d per_connection_bytes=%d%n",
        step, total2 - total1, (total2 - total1) / step);
    System.out.printf(Locale.ROOT, "RESULT idle heap transport=%s connections=%d per_connection_bytes=%d per_connection_kib=%.2f "
            + "sockets_closed_after_ms=%d left_after_close_bytes=%d%n",
        transport, 2 * step, (total2 - total0) / (2 * step), (total2 - total0) / (2.0 * step) / 1024, closedAfterMs,
        total3 - total0);
    // The compiler's share is left out: it is the node warming up, not the connections' cost.
    double extraMs = (cpuHeld[0] - cpuHeld[1]) - (cpuIdle[0] - cpuIdle[1]);
    System.out.printf(Locale.ROOT, "RESULT idle cpu seconds=%d cpu_ms_without=%d jit_ms_without=%d cpu_ms_with=%d "
            + "jit_ms_with=%d connections=%d heartbeats_received=%d cpu_ms_per_s_per_10k=%.1f cpu_us_per_heartbeat=%.1f%n",
        idleSeconds, cpuIdle[0], cpuIdle[1], cpuHeld[0], cpuHeld[1], 2 * step, beats,
        extraMs / idleSeconds / (2.0 * step / 10_000), beats == 0 ? 0.0 : extraMs * 1000.0 / beats);
    System.out.println("top classes per connection (bytes, objects):");
    classDiff(h0, h2, 2 * step).forEach(System.out::println);
    System.out.println("top classes left after closing every connection (bytes, objects per closed connection):");
    classDiff(h0, h3, 2 * step).forEach(System.out::println);
  }

  /**
   * CPU the processes spend over {@code seconds}, after 5 s for whatever the last step left running:
   * as {@link StreamLoad.CpuSnapshot#since} counts it (element 0 all of it, element 1 the JIT compiler threads').
   */
  private static long[] cpuOver(long[] pids, int seconds) throws InterruptedException {
    Thread.sleep(5_000);
    StreamLoad.CpuSnapshot before = StreamLoad.cpuSnapshot(pids);
    Thread.sleep(seconds * 1000L);
    return StreamLoad.cpuSnapshot(pids).since(before);
  }

  // ------------------------------------------------------------------------------------------ connections

  /**
   * Opens {@code count} live readers at the tail ({@code offset=now}): reader i on {@code base(i)} reading
   * {@code stream(i)}, over SSE when {@code sse(i)} and WebSocket otherwise; 250 at a time, each batch
   * awaited until every reader of it has received its first control event.
   */
  private void open(int count, java.util.function.IntFunction<String> base, java.util.function.IntFunction<String> stream,
                    java.util.function.IntPredicate sse, Deliveries deliveries) throws Exception {
    int batch = 250;
    for (int from = 0; from < count; from += batch) {
      int to = Math.min(count, from + batch);
      CountDownLatch live = new CountDownLatch(to - from);
      for (int i = from; i < to; i++) {
        URI uri = URI.create(base.apply(i));
        String path = "/v1/stream/" + stream.apply(i);
        if (sse.test(i)) {
          openSse(uri, path, live, deliveries);
        } else {
          openWs(uri, path, live, deliveries);
        }
      }
      if (!live.await(120, TimeUnit.SECONDS)) {
        throw new IllegalStateException("readers " + from + ".." + to + ": " + live.getCount() + " not live after 120 s");
      }
      if (to % 2000 < batch) {
        progress("  " + to + " of " + count + " live");
      }
    }
  }

  private void openSse(URI base, String path, CountDownLatch live, Deliveries deliveries) {
    boolean[] counted = {false};
    http.request(new RequestOptions().setHost(base.getHost()).setPort(base.getPort())
            .setURI(path + "?live=sse&offset=now"))
        .compose(req -> req.send())
        .onSuccess(resp -> {
          if (resp.statusCode() != 200) {
            System.err.println("SSE " + path + ": HTTP " + resp.statusCode());
            return;
          }
          synchronized (held) {
            held.add(() -> resp.request().connection().close());
          }
          resp.handler(RecordParser.newDelimited("\n", line -> {
            String text = line.toString();
            if (text.startsWith("data:") && !text.startsWith("data:{")) {
              deliveries.record(text);
            } else if (!counted[0] && text.contains("streamNextOffset")) {
              counted[0] = true;
              live.countDown();
            } else if (text.startsWith(": heartbeat")) {
              heartbeats.incrementAndGet();
            }
          }));
        })
        .onFailure(e -> System.err.println("SSE " + path + ": " + e));
  }

  private void openWs(URI base, String path, CountDownLatch live, Deliveries deliveries) {
    boolean[] counted = {false};
    ws.connect(new WebSocketConnectOptions().setHost(base.getHost()).setPort(base.getPort())
            .setURI(path + "?live=ws&offset=now"))
        .onSuccess(socket -> {
          synchronized (held) {
            held.add(() -> socket.close());
          }
          socket.textMessageHandler(text -> {
            if (text.startsWith("{\"type\":\"data\"")) {
              deliveries.record(text);
            } else if (!counted[0] && text.startsWith("{\"type\":\"control\"")) {
              counted[0] = true;
              live.countDown();
            } else if (text.startsWith("{\"type\":\"heartbeat\"")) {
              heartbeats.incrementAndGet();
            }
          });
        })
        .onFailure(e -> System.err.println("WebSocket " + path + ": " + e));
  }

  private void closeAll() throws Exception {
    List<AutoCloseable> all;
    synchronized (held) {
      all = new ArrayList<>(held);
      held.clear();
    }
    for (AutoCloseable c : all) {
      c.close();
    }
  }

  private void create(String base, String stream) throws Exception {
    URI uri = URI.create(base);
    int status = http.request(new RequestOptions().setMethod(HttpMethod.PUT).setHost(uri.getHost()).setPort(uri.getPort())
            .setURI("/v1/stream/" + stream).putHeader("Content-Type", "text/plain"))
        .compose(req -> req.send())
        .compose(resp -> resp.body().map(b -> resp.statusCode()))
        .await(30, TimeUnit.SECONDS);
    if (status / 100 != 2) {
      throw new IllegalStateException("PUT " + stream + ": HTTP " + status);
    }
  }

  /** Waits until the node's {@code tether_connections} gauges add up to {@code expected} (60 s at most). */
  private void awaitConnections(String base, long expected) throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    long seen = -1;
    while (System.currentTimeMillis() < deadline) {
      String metrics = get(base + "/metrics");
      seen = 0;
      for (String line : metrics.split("\n")) {
        if (line.startsWith("tether_connections{")) {
          seen += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
      if (seen == expected) {
        return;
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException("the node reports " + seen + " live connections, expected " + expected);
  }

  /**
   * Waits until the node holds no HTTP connection but the one asking ({@code
   * vertx_http_server_active_connections}): a WebSocket the client closed is gone from Tether's gauge at
   * once, but its socket stays open until the close handshake ends (120 s at most).
   */
  private void awaitSockets(String base) throws Exception {
    long deadline = System.currentTimeMillis() + 120_000;
    double open = -1;
    while (System.currentTimeMillis() < deadline) {
      open = 0;
      for (String line : get(base + "/metrics").split("\n")) {
        if (line.startsWith("vertx_http_server_active_connections")) {
          open += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
      if (open <= 1) {
        return;
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException("the node still holds " + (long) open + " HTTP connections 120 s after they were closed");
  }

  private String get(String url) throws Exception {
    URI uri = URI.create(url);
    Future<String> body = http.request(new RequestOptions().setHost(uri.getHost()).setPort(uri.getPort())
            .setURI(uri.getPath()).putHeader("Connection", "close"))
        .compose(req -> req.send())
        .compose(resp -> resp.body().map(Buffer::toString));
    return body.await(30, TimeUnit.SECONDS);
  }

  // ------------------------------------------------------------------------------------------------ heap

  /** Live heap of one JVM by class (bytes, instances) after a full GC; key "" holds the total. */
  private static Map<String, long[]> histogram(String pid) throws Exception {
    MemoryBench.jcmd(pid, "GC.run");
    Map<String, long[]> classes = new HashMap<>();
    for (String line : MemoryBench.jcmd(pid, "GC.class_histogram").split("\n")) {
      Matcher m = MemoryBench.HISTO_LINE.matcher(line);
      if (m.find()) {
        classes.put(m.group(3), new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(1))});
        continue;
      }
      Matcher t = MemoryBench.HISTO_TOTAL.matcher(line);
      if (t.find()) {
        classes.put("", new long[] {Long.parseLong(t.group(2)), Long.parseLong(t.group(1))});
      }
    }
    if (!classes.containsKey("")) {
      throw new IllegalStateException("no histogram total from pid " + pid);
    }
    return classes;
  }

  private static long total(Map<String, long[]> histogram) {
    return histogram.get("")[0];
  }

  private static List<String> classDiff(Map<String, long[]> before, Map<String, long[]> after, int units) {
    List<Map.Entry<String, long[]>> diff = new ArrayList<>();
    for (Map.Entry<String, long[]> e : after.entrySet()) {
      if (e.getKey().isEmpty()) {
        continue;
      }
      long[] b = before.getOrDefault(e.getKey(), new long[2]);
      diff.add(Map.entry(e.getKey(), new long[] {e.getValue()[0] - b[0], e.getValue()[1] - b[1]}));
    }
    diff.sort((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]));
    List<String> lines = new ArrayList<>();
    for (Map.Entry<String, long[]> e : diff.subList(0, Math.min(15, diff.size()))) {
      lines.add(String.format(Locale.ROOT, "  %8.1f %6.2f  %s", e.getValue()[0] / (double) units,
          e.getValue()[1] / (double) units, e.getKey()));
    }
    return lines;
  }

  private static void progress(String line) {
    System.err.println(line);
  }

  /** Counts each {@code t=<nanos>;} token of a delivered event once, with its latency (µs). */
  private static final class Deliveries {
    private final Recorder latency;
    private final AtomicLong delivered;
    private final AtomicLong measureStart;

    Deliveries(Recorder latency, AtomicLong delivered, AtomicLong measureStart) {
      this.latency = latency;
      this.delivered = delivered;
      this.measureStart = measureStart;
    }

    void record(String data) {
      StreamLoad.recordSendTimes(data, measureStart.get(), latency, delivered);
    }
  }
}
