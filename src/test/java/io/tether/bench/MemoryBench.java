package io.tether.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Live heap of running Tether nodes per idle session, per stream with a full ring and per open live
 * connection, measured (not estimated) with {@code jcmd}: every measurement runs a full GC on every node
 * ({@code GC.run}), then {@code GC.class_histogram} (which collects again and counts only live objects)
 * and sums the histogram's total over the nodes. Differences between measurements, divided by the
 * number of things added, are the per-unit figures; each is measured in two equal steps so that a
 * figure that is linear shows the same value twice.
 *
 * <pre>
 * MemoryBench LABEL URLS PIDS SESSIONS STREAMS EVENTS CONNECTIONS OUTDIR
 * </pre>
 *
 * URLS and PIDS are the nodes' base URLs and process ids, comma-separated, in the same order. Per step:
 * SESSIONS sessions ({@code POST /v1/sessions}, no message), STREAMS plain streams filled with EVENTS
 * events of {@value #PAYLOAD} bytes each, CONNECTIONS idle live connections (SSE, then WebSocket), each
 * on its own stream at {@code offset=now}. Prints {@code RESULT} lines (each measurement, each step,
 * and a summary per quantity) and writes the top classes of each quantity to
 * {@code OUTDIR/memory-LABEL-classes.txt}.
 *
 * <pre>
 * MemoryBench LABEL URLS PIDS passivated STREAMS IDLE_SECONDS OUTDIR
 * </pre>
 *
 * The passivated mode measures what a stream costs once nobody uses it: STREAMS streams in two equal
 * steps, each created with one {@value #PAYLOAD}-byte event through node {@code i % nodes}, read once
 * through every node, then left alone for twice IDLE_SECONDS (the nodes' {@code TETHER_OWNER_IDLE_SECONDS})
 * until {@code tether_stream_owners} is 0 on every node; the result is the heap per stream over all
 * nodes against the bound of 2 × its ring bytes + 2 KiB.
 *
 * <p>The client's pooled HTTP connections are closed before every measurement (keep-alive 1 s, then
 * the nodes' {@code vertx_http_server_active_connections} is awaited), so an idle keep-alive connection
 * is never counted as a session.
 */
public final class MemoryBench {

  /** Payload size of every ring event, in bytes. */
  static final int PAYLOAD = 32;
  private static final int WARMUP = 50;
  private static final int WARMUP_ENTRIES = 1500;
  static final Pattern HISTO_LINE = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)");
  static final Pattern HISTO_TOTAL = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)");
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  private final String label;
  private final String[] bases;
  private final String[] pids;
  private final Path outDir;
  private final HttpClient client;
  private final HttpClient live;
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final List<String> classReport = new ArrayList<>();
  private final Map<String, String> owners = new ConcurrentHashMap<>();
  private int heldSse;
  private int heldWs;

  private MemoryBench(String label, String[] bases, String[] pids, Path outDir) {
    this.label = label;
    this.bases = bases;
    this.pids = pids;
    this.outDir = outDir;
    ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "http-client");
      t.setDaemon(true);
      return t;
    });
    this.client = HttpClient.newBuilder().executor(executor).version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    this.live = HttpClient.newBuilder().executor(executor).version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 7 && args[3].equals("passivated")) {
      System.setProperty("jdk.httpclient.keepalive.timeout", "1");
      System.setProperty("http.keepAlive", "false");
      MemoryBench bench = new MemoryBench(args[0], args[1].split(","), args[2].split(","), Path.of(args[6]));
      bench.runPassivated(Integer.parseInt(args[4]), Integer.parseInt(args[5]));
      System.exit(0);
    }
    if (args.length != 8) {
      System.err.println("usage: MemoryBench LABEL URLS PIDS SESSIONS STREAMS EVENTS CONNECTIONS OUTDIR");
      System.exit(2);
    }
    // Idle pooled connections of java.net.http close after 1 s, those of HttpURLConnection (metrics) at once.
    System.setProperty("jdk.httpclient.keepalive.timeout", "1");
    System.setProperty("http.keepAlive", "false");
    MemoryBench bench = new MemoryBench(args[0], args[1].split(","), args[2].split(","), Path.of(args[7]));
    bench.run(Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]),
        Integer.parseInt(args[6]));
    System.exit(0);
  }

  private void run(int sessions, int streams, int events, int connections) throws Exception {
    int copies = Math.min(2, bases.length); // a stream's primary plus, with 2+ members, its one backup
    long ringPayload = (long) streams * events * PAYLOAD * copies;

    // Warm-up: enough sessions and streams that every one of the 271 Hazelcast partitions already holds
    // entries of every map (per-partition containers are created on first use and would otherwise be
    // charged to the first step), plus a few full rings and connections for the JIT and Netty's pools.
    progress("warm-up: " + WARMUP_ENTRIES + " sessions and " + WARMUP_ENTRIES + " streams read once, "
        + WARMUP + " streams of " + events + " events, " + WARMUP + " SSE and " + WARMUP
        + " WebSocket connections opened and closed");
    readSessions(createSessions(WARMUP_ENTRIES), 0);
    List<String> warm = createStreams(WARMUP_ENTRIES, "warm");
    read(warm, true);
    fill(warm.subList(0, WARMUP), events);
    List<Held> held = openSse(warm, 0, WARMUP);
    closeAll(held, "sse");
    held = openWs(warm, 0, WARMUP);
    closeAll(held, "websocket");

    Heap base = measure("baseline");
    Heap base2 = measure("baseline-again");
    result("noise", "baseline_repeat_delta_bytes=" + (base2.live - base.live));

    // Sessions, two steps: created (no message, nobody connected), then read once through the event bus.
    progress("sessions: " + sessions + " per step");
    Map<String, String> s1Ids = createSessions(sessions);
    Heap s1 = measure("sessions-1-created");
    readSessions(s1Ids, 0);
    Heap s1r = measure("sessions-1-read");
    Map<String, String> s2Ids = createSessions(sessions);
    Heap s2 = measure("sessions-2-created");
    readSessions(s2Ids, 0);
    Heap s2r = measure("sessions-2-read");
    // On a cluster, then read each session once more from every other node.
    Heap s1e = null;
    Heap s2e = null;
    if (bases.length > 1) {
      for (int shift = 1; shift < bases.length; shift++) {
        readSessions(s1Ids, shift);
      }
      s1e = measure("sessions-1-read-on-every-node");
      for (int shift = 1; shift < bases.length; shift++) {
        readSessions(s2Ids, shift);
      }
      s2e = measure("sessions-2-read-on-every-node");
    }
    Heap sessionsDone = s2e != null ? s2e : s2r;

    // Streams, two steps: created empty, read once, then filled.
    progress("streams: " + streams + " per step, " + events + " events of " + PAYLOAD + " bytes each");
    List<String> a = createStreams(streams, "a");
    Heap aEmpty = measure("streams-1-created");
    read(a, true);
    Heap aRead = measure("streams-1-read");
    fill(a, events);
    Heap aRing = measure("streams-1-filled");
    List<String> b = createStreams(streams, "b");
    Heap bEmpty = measure("streams-2-created");
    read(b, true);
    Heap bRead = measure("streams-2-read");
    fill(b, events);
    Heap bRing = measure("streams-2-filled");

    // Live connections: one per stream, at the tail, idle. The streams are created and read once from
    // the node each connection will use first, so what follows is the connection alone.
    List<String> c = createStreams(2 * connections, "c");
    read(c, false);
    Heap connBase = measure("connections-baseline");
    progress("SSE: " + connections + " connections per step");
    List<Held> sse = new ArrayList<>(openSse(c, 0, connections));
    Heap sse1 = measure("sse-1");
    sse.addAll(openSse(c, connections, 2 * connections));
    Heap sse2 = measure("sse-2");
    closeAll(sse, "sse");
    Heap sseClosed = measure("sse-closed");
    progress("WebSocket: " + connections + " connections per step");
    List<Held> ws = new ArrayList<>(openWs(c, 0, connections));
    Heap ws1 = measure("ws-1");
    ws.addAll(openWs(c, connections, 2 * connections));
    Heap ws2 = measure("ws-2");
    closeAll(ws, "websocket");
    Heap wsClosed = measure("ws-closed");

    String ring = "ring_" + events;
    quantity("session_created", sessions, 0, new Heap[] {base2, s1}, new Heap[] {s1r, s2});
    quantity("session_first_read", sessions, 0, new Heap[] {s1, s1r}, new Heap[] {s2, s2r});
    quantity("session_created_and_read", sessions, 0, new Heap[] {base2, s1r}, new Heap[] {s1r, s2r});
    if (s2e != null) {
      quantity("session_read_on_" + (bases.length - 1) + "_other_nodes", sessions, 0, new Heap[] {s2r, s1e},
          new Heap[] {s1e, s2e});
    }
    quantity("stream_created", streams, 0, new Heap[] {sessionsDone, aEmpty}, new Heap[] {aRing, bEmpty});
    quantity("stream_first_read", streams, 0, new Heap[] {aEmpty, aRead}, new Heap[] {bEmpty, bRead});
    quantity(ring, streams, ringPayload, new Heap[] {aRead, aRing}, new Heap[] {bRead, bRing});
    quantity("stream_with_" + ring, streams, ringPayload, new Heap[] {sessionsDone, aRing},
        new Heap[] {aRing, bRing});
    quantity("sse", connections, 0, new Heap[] {connBase, sse1}, new Heap[] {sse1, sse2});
    quantity("ws", connections, 0, new Heap[] {sseClosed, ws1}, new Heap[] {ws1, ws2});
    result("residual", "after=sse-closed bytes=" + (sseClosed.live - connBase.live) + " per_closed_connection="
        + (sseClosed.live - connBase.live) / (2 * connections));
    result("residual", "after=ws-closed bytes=" + (wsClosed.live - sseClosed.live) + " per_closed_connection="
        + (wsClosed.live - sseClosed.live) / (2 * connections));

    classes("session_created", 2L * sessions, new Heap[] {base2, s1}, new Heap[] {s1r, s2});
    classes("session_first_read", 2L * sessions, new Heap[] {s1, s1r}, new Heap[] {s2, s2r});
    if (s2e != null) {
      classes("session_read_on_" + (bases.length - 1) + "_other_nodes", 2L * sessions, new Heap[] {s2r, s2e});
    }
    classes("stream_created", 2L * streams, new Heap[] {sessionsDone, aEmpty}, new Heap[] {aRing, bEmpty});
    classes(ring + " (payload included)", 2L * streams, new Heap[] {aRead, aRing}, new Heap[] {bRead, bRing});
    classes("sse", 2L * connections, new Heap[] {connBase, sse2});
    classes("ws", 2L * connections, new Heap[] {sseClosed, ws2});
    classes("left after closing every SSE connection (total, not per unit)", 1, new Heap[] {connBase, sseClosed});
    classes("left after closing every WebSocket connection (total, not per unit)", 1, new Heap[] {sseClosed, wsClosed});
    Files.createDirectories(outDir);
    Files.write(outDir.resolve("memory-" + label + "-classes.txt"), classReport, StandardCharsets.UTF_8);
  }

  /** See the class comment: the heap per stream once every owner has passivated. */
  private void runPassivated(int streams, int idleSeconds) throws Exception {
    int half = streams / 2;
    progress("warm-up: " + WARMUP_ENTRIES + " streams created, read through every node and left to passivate");
    passivatedStep(WARMUP_ENTRIES, "warm", idleSeconds);
    Heap base = measure("baseline");
    Heap base2 = measure("baseline-again");
    result("noise", "baseline_repeat_delta_bytes=" + (base2.live - base.live));
    progress("streams: " + half + " per step, each created with one event of " + PAYLOAD + " bytes");
    passivatedStep(half, "p1", idleSeconds);
    Heap one = measure("passivated-1");
    passivatedStep(half, "p2", idleSeconds);
    Heap two = measure("passivated-2");
    // Heap per stream, payload included: the bound is stated in ring bytes (one copy on each of two members).
    quantity("passivated_stream", half, 0, new Heap[] {base2, one}, new Heap[] {one, two});
    long ringBytes = PAYLOAD;
    long bound = 2 * ringBytes + 2048;
    long perStream = Math.round(((two.live - base2.live) / (double) (2 * half)));
    result("bound", "per_stream_bytes=" + perStream + " ring_bytes=" + ringBytes + " bound_bytes=" + bound
        + " within=" + (perStream <= bound));
    classes("passivated_stream (payload included)", 2L * half, new Heap[] {base2, one}, new Heap[] {one, two});
    Files.createDirectories(outDir);
    Files.write(outDir.resolve("memory-" + label + "-classes.txt"), classReport, StandardCharsets.UTF_8);
  }

  /**
   * Creates {@code count} streams with one event each, reads each through every node, then waits twice
   * the idle time and until no node reports an active owner.
   */
  private void passivatedStep(int count, String tag, int idleSeconds) throws Exception {
    long started = System.nanoTime();
    List<String> names = new ArrayList<>();
    List<HttpRequest> requests = new ArrayList<>();
    String body = "x".repeat(PAYLOAD);
    for (int i = 0; i < count; i++) {
      String name = "mem-" + run + "-" + tag + "-" + i;
      names.add(name);
      requests.add(HttpRequest.newBuilder(URI.create(bases[i % bases.length] + "/v1/stream/" + name))
          .timeout(Duration.ofSeconds(30)).header("Content-Type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }
    send(requests, 201, b -> { });
    progress(String.format(Locale.ROOT, "  created %d streams in %.1f s", count, (System.nanoTime() - started) / 1e9));
    for (int shift = 0; shift < bases.length; shift++) {
      long readStarted = System.nanoTime();
      List<HttpRequest> reads = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        reads.add(HttpRequest.newBuilder(URI.create(bases[(i + shift) % bases.length] + "/v1/stream/" + names.get(i)
            + "?offset=-1")).timeout(Duration.ofSeconds(30)).GET().build());
      }
      send(reads, 200, b -> {
        if (!b.equals(body)) {
          throw new IllegalStateException("unexpected content " + b);
        }
      });
      progress(String.format(Locale.ROOT, "  read %d streams through node %d of each in %.1f s", count, shift + 1,
          (System.nanoTime() - readStarted) / 1e9));
    }
    long quietSince = System.currentTimeMillis();
    Thread.sleep(2000L * idleSeconds);
    long deadline = System.currentTimeMillis() + 120_000;
    while (true) {
      long owners = 0;
      for (String base : bases) {
        owners += (long) metric(base, "tether_stream_owners");
      }
      if (owners == 0) {
        break;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(owners + " owners still active " + (System.currentTimeMillis() - quietSince)
            + " ms after the last request");
      }
      Thread.sleep(500);
    }
    result("owners", "step=" + tag + " active_owners=0 after_ms=" + (System.currentTimeMillis() - quietSince));
  }

  // ------------------------------------------------------------------------------------------ load

  /** Creates sessions round-robin over the nodes; answers session id to write token. */
  private Map<String, String> createSessions(int count) throws Exception {
    long started = System.nanoTime();
    Map<String, String> tokens = new ConcurrentHashMap<>();
    Pattern idField = Pattern.compile("\"sessionId\":\"([^\"]+)\"");
    Pattern tokenField = Pattern.compile("\"token\":\"([^\"]+)\"");
    List<HttpRequest> requests = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      requests.add(HttpRequest.newBuilder(URI.create(bases[i % bases.length] + "/v1/sessions"))
          .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build());
    }
    send(requests, 201, body -> {
      Matcher id = idField.matcher(body);
      Matcher token = tokenField.matcher(body);
      if (!id.find() || !token.find()) {
        throw new IllegalStateException("unexpected session answer " + body);
      }
      tokens.put(id.group(1), token.group(1));
    });
    progress(String.format(Locale.ROOT, "  created %d sessions in %.1f s", count, (System.nanoTime() - started) / 1e9));
    return tokens;
  }

  /**
   * Reads every session's stream once from the start (a catch-up GET with its token): the i-th session
   * (in the map's order, which does not change) on node {@code (i + shift) % nodes}.
   */
  private void readSessions(Map<String, String> tokens, int shift) throws Exception {
    List<HttpRequest> requests = new ArrayList<>();
    int i = shift;
    for (Map.Entry<String, String> e : tokens.entrySet()) {
      requests.add(HttpRequest.newBuilder(URI.create(bases[i++ % bases.length] + "/v1/stream/sessions/" + e.getKey()
          + "?offset=-1")).timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + e.getValue()).GET()
          .build());
    }
    send(requests, 200, body -> {
      if (!body.contains("session.created")) {
        throw new IllegalStateException("unexpected session read " + body);
      }
    });
  }

  /**
   * Reads every stream once (a catch-up GET), through the node an append or a connection will use:
   * the owner ({@code viaOwner}, as {@link #fill} does) or the node the stream's index picks.
   */
  private void read(List<String> names, boolean viaOwner) throws Exception {
    List<HttpRequest> requests = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      String base = viaOwner && bases.length > 1 ? owner(names.get(i)) : bases[i % bases.length];
      requests.add(HttpRequest.newBuilder(URI.create(base + "/v1/stream/" + names.get(i) + "?offset=-1"))
          .timeout(Duration.ofSeconds(30)).GET().build());
    }
    send(requests, 200, body -> { });
  }

  /** Sends requests, 16 at a time; every answer must have {@code status}; {@code check} sees each body. */
  private void send(List<HttpRequest> requests, int status, Consumer<String> check)
      throws Exception {
    Semaphore window = new Semaphore(16);
    AtomicLong failed = new AtomicLong();
    AtomicReference<String> lastError = new AtomicReference<>();
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (HttpRequest request : requests) {
      window.acquire();
      all.add(client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
        window.release();
        try {
          if (e != null || r.statusCode() != status) {
            throw new IllegalStateException(request.method() + " " + request.uri() + ": "
                + (e != null ? e.toString() : r.statusCode() + " " + r.body()));
          }
          check.accept(r.body());
        } catch (RuntimeException x) {
          failed.incrementAndGet();
          lastError.set(x.getMessage());
        }
      }));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).exceptionally(e -> null).join();
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " of " + requests.size() + " requests failed: " + lastError.get());
    }
  }

  private List<String> createStreams(int count, String tag) throws Exception {
    long started = System.nanoTime();
    List<String> names = new ArrayList<>();
    List<HttpRequest> requests = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String name = "mem-" + run + "-" + tag + "-" + i;
      names.add(name);
      requests.add(HttpRequest.newBuilder(URI.create(bases[i % bases.length] + "/v1/stream/" + name))
          .timeout(Duration.ofSeconds(30)).header("Content-Type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.noBody()).build());
    }
    send(requests, 201, body -> { });
    progress(String.format(Locale.ROOT, "  created %d streams in %.1f s", count, (System.nanoTime() - started) / 1e9));
    return names;
  }

  /**
   * Appends {@code events} events of {@link #PAYLOAD} bytes to every stream, through the node that owns
   * it (so the fill is quick; where an append enters does not change what the ring keeps), and checks
   * that each stream ends at exactly {@code events} events.
   */
  private void fill(List<String> names, int events) throws Exception {
    long started = System.nanoTime();
    ExecutorService writers = Executors.newFixedThreadPool(32);
    List<Future<?>> done = new ArrayList<>();
    for (String name : names) {
      done.add(writers.submit(() -> {
        String base = bases.length == 1 ? bases[0] : owner(name);
        URI uri = URI.create(base + "/v1/stream/" + name);
        String next = null;
        for (int e = 0; e < events; e++) {
          String payload = String.format(Locale.ROOT, "%-" + PAYLOAD + "s", "e" + e + ";");
          HttpRequest post = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
              .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString(payload)).build();
          HttpResponse<String> r = client.send(post, HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() != 204 && r.statusCode() != 200) {
            throw new IllegalStateException("append to " + name + " answered " + r.statusCode() + " " + r.body());
          }
          next = r.headers().firstValue("Stream-Next-Offset").orElseThrow();
        }
        String expected = String.format(Locale.ROOT, "%016d_%016d", events, (long) events * PAYLOAD);
        if (!expected.equals(next)) {
          throw new IllegalStateException(name + " ends at " + next + ", expected " + expected);
        }
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    writers.shutdown();
    double seconds = (System.nanoTime() - started) / 1e9;
    progress(String.format(Locale.ROOT, "  filled %d streams with %d events each in %.1f s (%.0f appends/s)",
        names.size(), events, seconds, names.size() * (double) events / seconds));
  }

  /** The base URL of the node that owns {@code name} (asked once, on the first node). */
  private String owner(String name) throws Exception {
    String known = owners.get(name);
    if (known != null) {
      return known;
    }
    String body = client.send(HttpRequest.newBuilder(URI.create(bases[0] + "/v1/admin/streams/" + name)).GET().build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("\"httpPort\":(\\d+)").matcher(body);
    if (!m.find()) {
      throw new IllegalStateException("no owner for " + name + ": " + body);
    }
    for (String b : bases) {
      if (b.endsWith(":" + m.group(1))) {
        owners.put(name, b);
        return b;
      }
    }
    throw new IllegalStateException("owner of " + name + " is on no known node: " + body);
  }

  /** An open live connection and how to close it. */
  private interface Held {
    void close();
  }

  /**
   * Opens one SSE connection to each of {@code names[from, to)}, stream {@code i} on node {@code i % nodes}
   * (as {@link #read} with {@code viaOwner} false), and waits until each is live.
   */
  private List<Held> openSse(List<String> names, int from, int to) throws Exception {
    CountDownLatch liveLatch = new CountDownLatch(to - from);
    List<Held> held = new ArrayList<>();
    for (int i = from; i < to; i++) {
      URI uri = URI.create(bases[i % bases.length] + "/v1/stream/" + names.get(i) + "?live=sse&offset=now");
      SseReader reader = new SseReader(liveLatch);
      CompletableFuture<HttpResponse<Void>> response = live.sendAsync(HttpRequest.newBuilder(uri).GET().build(),
          HttpResponse.BodyHandlers.fromLineSubscriber(reader));
      held.add(() -> {
        reader.cancel();
        response.cancel(true);
      });
      if (i % 100 == 99) {
        Thread.sleep(20);
      }
    }
    if (!liveLatch.await(120, TimeUnit.SECONDS)) {
      throw new IllegalStateException((to - from - liveLatch.getCount()) + " of " + (to - from)
          + " SSE connections went live");
    }
    heldSse += to - from;
    awaitConnections("sse", heldSse);
    return held;
  }

  /** Opens one WebSocket to each of {@code names[from, to)}, placed as {@link #openSse} does. */
  private List<Held> openWs(List<String> names, int from, int to) throws Exception {
    CountDownLatch liveLatch = new CountDownLatch(to - from);
    List<Held> held = new ArrayList<>();
    List<CompletableFuture<WebSocket>> sockets = new ArrayList<>();
    for (int i = from; i < to; i++) {
      URI uri = URI.create(bases[i % bases.length].replaceFirst("^http", "ws") + "/v1/stream/" + names.get(i)
          + "?live=ws&offset=now");
      CompletableFuture<WebSocket> socket = live.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30))
          .buildAsync(uri, new WsReader(liveLatch));
      sockets.add(socket);
      held.add(() -> socket.thenAccept(w -> w.sendClose(WebSocket.NORMAL_CLOSURE, "")
          .whenComplete((x, e) -> w.abort())));
      if (i % 100 == 99) {
        Thread.sleep(20);
      }
    }
    if (!liveLatch.await(120, TimeUnit.SECONDS)) {
      long failed = sockets.stream().filter(CompletableFuture::isCompletedExceptionally).count();
      throw new IllegalStateException((to - from - liveLatch.getCount()) + " of " + (to - from)
          + " WebSockets went live (" + failed + " failed to open)");
    }
    heldWs += to - from;
    awaitConnections("websocket", heldWs);
    return held;
  }

  private void closeAll(List<Held> held, String transport) throws Exception {
    held.forEach(Held::close);
    if (transport.equals("sse")) {
      heldSse = 0;
    } else {
      heldWs = 0;
    }
    awaitConnections(transport, 0);
  }

  /** Waits until the nodes together report {@code expected} live connections of a transport. */
  private void awaitConnections(String transport, int expected) throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    long seen = -1;
    while (System.currentTimeMillis() < deadline) {
      seen = 0;
      for (String base : bases) {
        seen += (long) metric(base, "tether_connections{transport=\"" + transport + "\"}");
      }
      if (seen == expected) {
        return;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("nodes report " + seen + " " + transport + " connections, expected " + expected);
  }

  private static final class SseReader implements Flow.Subscriber<String> {
    private final CountDownLatch liveLatch;
    private volatile Flow.Subscription subscription;
    private boolean counted;

    SseReader(CountDownLatch liveLatch) {
      this.liveLatch = liveLatch;
    }

    void cancel() {
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      this.subscription = subscription;
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(String line) {
      if (!counted && line.contains("streamNextOffset")) {
        counted = true;
        liveLatch.countDown();
      }
    }

    @Override
    public void onError(Throwable throwable) {
    }

    @Override
    public void onComplete() {
    }
  }

  private static final class WsReader implements WebSocket.Listener {
    private final CountDownLatch liveLatch;
    private final StringBuilder text = new StringBuilder();
    private boolean counted;

    WsReader(CountDownLatch liveLatch) {
      this.liveLatch = liveLatch;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        if (!counted && text.indexOf("\"control\"") >= 0) {
          counted = true;
          liveLatch.countDown();
        }
        text.setLength(0);
      }
      webSocket.request(1);
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ measurement

  /** Live heap summed over the nodes, and the summed class histogram. */
  private record Heap(String phase, long live, long used, Map<String, long[]> classes) {
  }

  private Heap measure(String phase) throws Exception {
    settle();
    long live = 0;
    long used = 0;
    Map<String, long[]> classes = new HashMap<>();
    List<String> perNode = new ArrayList<>();
    for (String pid : pids) {
      jcmd(pid, "GC.run");
      long nodeLive = -1;
      for (String line : jcmd(pid, "GC.class_histogram").split("\n")) {
        Matcher m = HISTO_LINE.matcher(line);
        if (m.find()) {
          long[] c = classes.computeIfAbsent(m.group(3), k -> new long[2]);
          c[0] += Long.parseLong(m.group(1));
          c[1] += Long.parseLong(m.group(2));
          continue;
        }
        Matcher t = HISTO_TOTAL.matcher(line);
        if (t.find()) {
          nodeLive = Long.parseLong(t.group(2));
        }
      }
      if (nodeLive < 0) {
        throw new IllegalStateException("no histogram total from pid " + pid);
      }
      Matcher u = HEAP_USED.matcher(jcmd(pid, "GC.heap_info"));
      long nodeUsed = u.find() ? Long.parseLong(u.group(1)) * 1024 : -1;
      live += nodeLive;
      used += nodeUsed;
      perNode.add(Long.toString(nodeLive));
    }
    Heap heap = new Heap(phase, live, used, classes);
    result("heap", "phase=" + phase + " live_bytes=" + live + " g1_used_bytes=" + used + " per_node_live="
        + String.join(",", perNode));
    return heap;
  }

  /**
   * Lets asynchronous work of the last step finish and the client's pooled connections close: waits
   * until every node reports no HTTP connection but the live ones held on purpose (and the scrape).
   */
  private void settle() throws Exception {
    Thread.sleep(2000);
    long deadline = System.currentTimeMillis() + 30_000;
    while (true) {
      long active = 0;
      for (String base : bases) {
        active += (long) metric(base, "vertx_http_server_active_connections") - 1; // minus this scrape
      }
      if (active <= heldSse + heldWs) {
        return;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(active + " HTTP connections still open, expected " + (heldSse + heldWs));
      }
      Thread.sleep(500);
    }
  }

  /** One value from a node's {@code /metrics}, over a connection that is closed right after. */
  private static double metric(String base, String name) throws IOException {
    HttpURLConnection c = (HttpURLConnection) new URL(base + "/metrics").openConnection();
    c.setRequestProperty("Connection", "close");
    try (InputStream in = c.getInputStream()) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.startsWith(name + " ")) {
          return Double.parseDouble(line.substring(name.length() + 1).trim());
        }
      }
    } finally {
      c.disconnect();
    }
    return 0;
  }

  static String jcmd(String pid, String command) throws Exception {
    Process p = new ProcessBuilder("jcmd", pid, command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("jcmd " + pid + " " + command + " failed: " + out);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ reporting

  /**
   * One RESULT line per step ({@code units} added between the two measurements of the step, less
   * {@code payload} bytes) and a summary line: per-unit mean, min and max over the steps.
   */
  private void quantity(String quantity, int units, long payload, Heap[]... steps) {
    List<Long> perUnit = new ArrayList<>();
    int n = 0;
    for (Heap[] s : steps) {
      long delta = s[1].live - s[0].live;
      perUnit.add((delta - payload) / units);
      result(quantity, String.format(Locale.ROOT, "step=%d from=%s to=%s units=%d delta_bytes=%d payload_bytes=%d "
          + "per_unit_bytes=%d", ++n, s[0].phase, s[1].phase, units, delta, payload, (delta - payload) / units));
    }
    long min = perUnit.stream().mapToLong(Long::longValue).min().orElse(0);
    long max = perUnit.stream().mapToLong(Long::longValue).max().orElse(0);
    long mean = Math.round(perUnit.stream().mapToLong(Long::longValue).average().orElse(0));
    result("summary", String.format(Locale.ROOT, "quantity=%s units_per_step=%d steps=%d per_unit_mean_bytes=%d "
        + "per_unit_min_bytes=%d per_unit_max_bytes=%d each=%s", quantity, units, steps.length, mean, min, max,
        perUnit.toString().replace(" ", "")));
  }

  /** The classes whose live bytes changed most over the given steps, per unit added. */
  private void classes(String quantity, long units, Heap[]... steps) {
    Map<String, long[]> delta = new HashMap<>();
    long total = 0;
    List<String> spans = new ArrayList<>();
    for (Heap[] s : steps) {
      s[1].classes.forEach((k, v) -> {
        long[] d = delta.computeIfAbsent(k, x -> new long[2]);
        d[0] += v[0];
        d[1] += v[1];
      });
      s[0].classes.forEach((k, v) -> {
        long[] d = delta.computeIfAbsent(k, x -> new long[2]);
        d[0] -= v[0];
        d[1] -= v[1];
      });
      total += s[1].live - s[0].live;
      spans.add(s[0].phase + " -> " + s[1].phase);
    }
    classReport.add(String.format(Locale.ROOT, "== %s: %s; %d units; %.0f bytes per unit in all", quantity,
        String.join(", ", spans), units, total / (double) units));
    classReport.add(String.format(Locale.ROOT, "%12s %12s  %s", "bytes/unit", "objects/unit", "class"));
    delta.entrySet().stream()
        .filter(e -> e.getValue()[1] != 0)
        .sorted(Comparator.comparingLong((Map.Entry<String, long[]> e) -> -Math.abs(e.getValue()[1])))
        .limit(20)
        .forEach(e -> classReport.add(String.format(Locale.ROOT, "%12.1f %12.2f  %s", e.getValue()[1] / (double) units,
            e.getValue()[0] / (double) units, e.getKey())));
    Map<String, Long> groups = new TreeMap<>();
    delta.forEach((k, v) -> groups.merge(group(k), v[1], Long::sum));
    StringBuilder line = new StringBuilder("by package (bytes/unit):");
    groups.entrySet().stream().sorted(Comparator.comparingLong(e -> -Math.abs(e.getValue())))
        .filter(e -> Math.abs(e.getValue()) >= units)
        .forEach(e -> line.append(String.format(Locale.ROOT, " %s=%.0f", e.getKey(), e.getValue() / (double) units)));
    classReport.add(line.toString());
    classReport.add("");
  }

  /** Who a class belongs to; JDK collections, arrays and strings cannot be told apart by a histogram. */
  private static String group(String className) {
    for (String prefix : new String[] {"io.tether", "io.vertx", "io.netty", "com.hazelcast", "io.micrometer"}) {
      if (className.startsWith(prefix)) {
        return prefix;
      }
    }
    if (className.equals("[B")) {
      return "byte[]";
    }
    if (className.startsWith("[Lio.netty") || className.startsWith("[Lio.vertx")
        || className.startsWith("[Lcom.hazelcast")) {
      return className.substring(2, className.indexOf('.', className.indexOf('.') + 1));
    }
    return "jdk (collections, Object[], String...)";
  }

  private void result(String what, String fields) {
    System.out.println("RESULT " + label + " " + what + " " + fields);
    System.out.flush();
  }

  private static void progress(String message) {
    System.err.println(message);
  }
}
