package io.tether.bench;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Load generator for any Durable Streams server: N streams, one live reader per stream (SSE or
 * WebSocket), and W writers appending to the streams round-robin as fast as the server acknowledges
 * (closed loop). Each payload carries its send time, so the readers measure append-to-delivery latency
 * in the same process.
 *
 * <pre>
 * StreamLoad BASE_URLS STREAMS WRITERS WARMUP_SECONDS MEASURE_SECONDS LABEL [sse|ws] [non-owner|next] [RATE]
 * </pre>
 *
 * RATE paces the writers to that many appends per second in total (each writer on a fixed schedule;
 * a writer that falls behind sends at once), so that two servers are compared at the same offered load;
 * 0 or absent runs closed loop (as fast as acknowledged).
 *
 * With several comma-separated base URLs (the nodes of a cluster), writers spread their appends over
 * all nodes. Reader placement {@code non-owner} (the default) connects each stream's reader to a node
 * that does not own the stream (found with Tether's {@code /v1/admin/streams/{name}}), so every delivery
 * crosses the cluster; {@code next} puts stream i's reader on node i+1, for servers without owners
 * (the benchmark's bare relay, {@link RelayNode}).
 *
 * Prints one result line: {@code RESULT label streams writers appends/s ack_p50 ack_p99 deliver_p50
 * deliver_p99 delivered missing} (latencies in milliseconds). With {@code BENCH_PIDS} set to a
 * comma-separated list of server process ids, the line also carries the CPU time those processes spent in
 * the measured window ({@code /proc/<pid>/stat} utime + stime, summed), the part of it spent by JIT
 * compiler threads ({@code jit_ms}, Java servers only), the part spent by Hazelcast's threads
 * ({@code hz_ms}) and the whole per acknowledged append
 * ({@code cpu_us_per_append}): the cost of an append and of its delivery to the readers. A delivery is counted once per event;
 * {@code missing} counts events acknowledged in the measured window that no reader saw within 5 s.
 * With {@code BENCH_MEASURE_MARK} set to a file path, that file is written when the measured window begins.
 */
public final class StreamLoad {

  private StreamLoad() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 6 || args.length > 9) {
      System.err.println("usage: StreamLoad BASE_URL STREAMS WRITERS WARMUP_SECONDS MEASURE_SECONDS LABEL [sse|ws] "
          + "[non-owner|next] [RATE]");
      System.exit(2);
    }
    String[] bases = args[0].split(",");
    String base = bases[0];
    int streams = Integer.parseInt(args[1]);
    int writers = Integer.parseInt(args[2]);
    int warmup = Integer.parseInt(args[3]);
    int measure = Integer.parseInt(args[4]);
    String label = args[5];
    boolean webSocket = args.length > 6 && args[6].equals("ws");
    boolean nextNode = args.length > 7 && args[7].equals("next");
    double rate = args.length > 8 ? Double.parseDouble(args[8]) : 0;
    long interval = rate > 0 ? (long) (writers * 1e9 / rate) : 0;

    ExecutorService executor = Executors.newFixedThreadPool(4);
    HttpClient client = HttpClient.newBuilder().executor(executor).connectTimeout(Duration.ofSeconds(10))
        .version(HttpClient.Version.HTTP_1_1).build();
    String run = UUID.randomUUID().toString().substring(0, 8);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      names.add("bench-" + run + "-" + i);
    }
    List<String> urls = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      urls.add(bases[i % bases.length] + "/v1/stream/" + names.get(i));
    }

    // Create the streams.
    List<CompletableFuture<HttpResponse<Void>>> creates = new ArrayList<>();
    for (String url : urls) {
      creates.add(client.sendAsync(HttpRequest.newBuilder(URI.create(url)).PUT(HttpRequest.BodyPublishers.noBody())
          .header("Content-Type", "text/plain").build(), HttpResponse.BodyHandlers.discarding()));
      if (creates.size() % 200 == 0) {
        CompletableFuture.allOf(creates.toArray(CompletableFuture[]::new)).join();
      }
    }
    CompletableFuture.allOf(creates.toArray(CompletableFuture[]::new)).join();

    // Open one reader per stream at the tail and wait until each has seen its first control event.
    Recorder delivery = new Recorder(3);
    AtomicLong delivered = new AtomicLong();
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicLong measureStart = new AtomicLong(Long.MAX_VALUE);
    CountDownLatch live = new CountDownLatch(streams);
    Deliveries deliveries = new Deliveries(live, delivery, delivered, measureStart);
    List<CompletableFuture<?>> readers = new ArrayList<>();
    List<WebSocket> sockets = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      String readerBase = bases.length == 1 ? base
          : nextNode ? bases[(i + 1) % bases.length] : nonOwner(client, bases, names.get(i));
      String url = readerBase + "/v1/stream/" + names.get(i);
      if (webSocket) {
        sockets.add(client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
            .buildAsync(URI.create("ws" + url.substring(4) + "?live=ws&offset=now"), new WsFrames(deliveries))
            .get(30, TimeUnit.SECONDS));
      } else {
        HttpRequest sse = HttpRequest.newBuilder(URI.create(url + "?live=sse&offset=now")).GET().build();
        readers.add(client.sendAsync(sse, HttpResponse.BodyHandlers.fromLineSubscriber(new SseLines(deliveries))));
      }
      if ((i + 1) % 100 == 0) {
        Thread.sleep(20);
      }
    }
    if (!live.await(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("only " + (streams - live.getCount()) + " of " + streams + " readers started");
    }

    // Writers: closed loop, round-robin over their streams.
    Recorder ack = new Recorder(3);
    AtomicLong acked = new AtomicLong();
    AtomicLong measuredSent = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      int writer = w;
      Thread t = new Thread(() -> {
        int next = writer;
        long due = System.nanoTime() + interval * writer / writers;
        while (running.get()) {
          if (interval > 0) {
            long wait = due - System.nanoTime();
            if (wait > 0) {
              LockSupport.parkNanos(wait);
            }
            due += interval;
          }
          String url = bases[next % bases.length] + "/v1/stream/" + names.get(next % streams);
          next += writers;
          long sent = System.nanoTime();
          HttpRequest post = HttpRequest.newBuilder(URI.create(url))
              .POST(HttpRequest.BodyPublishers.ofString("t=" + sent + ";"))
              .header("Content-Type", "text/plain").build();
          try {
            HttpResponse<Void> r = client.send(post, HttpResponse.BodyHandlers.discarding());
            long done = System.nanoTime();
            if (r.statusCode() / 100 == 2 && measuring.get()) {
              ack.recordValue(Math.max(1, (done - sent) / 1000));
              acked.incrementAndGet();
              if (sent >= measureStart.get()) {
                measuredSent.incrementAndGet();
              }
            }
          } catch (Exception e) {
            if (running.get()) {
              System.err.println("append failed: " + e);
            }
          }
        }
      }, "writer-" + w);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }

    Thread.sleep(warmup * 1000L);
    delivery.reset();
    ack.reset();
    delivered.set(0);
    long[] pids = serverPids();
    CpuSnapshot cpuBefore = cpuSnapshot(pids);
    measureStart.set(System.nanoTime());
    measuring.set(true);
    String mark = System.getenv("BENCH_MEASURE_MARK");
    if (mark != null) {
      // Tells a profiler waiting outside that the measured window has begun.
      java.nio.file.Files.writeString(java.nio.file.Path.of(mark), "measuring\n");
    }
    long started = System.nanoTime();
    Thread.sleep(measure * 1000L);
    measuring.set(false);
    long[] cpu = cpuSnapshot(pids).since(cpuBefore);
    long elapsed = System.nanoTime() - started;
    long appends = acked.get();
    running.set(false);
    for (Thread t : threads) {
      t.join(10_000);
    }
    // Let the last deliveries arrive.
    long expected = measuredSent.get();
    long waitUntil = System.currentTimeMillis() + 5000;
    while (delivered.get() < expected && System.currentTimeMillis() < waitUntil) {
      Thread.sleep(20);
    }
    Histogram acks = ack.getIntervalHistogram();
    Histogram latencies = delivery.getIntervalHistogram();
    double achieved = appends / (elapsed / 1e9);
    System.out.printf(Locale.ROOT, "RESULT %s streams=%d writers=%d readers=%s offered_per_s=%s appends_per_s=%.0f ack_p50_ms=%.2f ack_p99_ms=%.2f "
            + "deliver_p50_ms=%.2f deliver_p99_ms=%.2f delivered=%d missing=%d%s%n",
        label, streams, writers, webSocket ? "ws" : "sse", rate > 0 ? String.format(Locale.ROOT, "%.0f", rate) : "closed-loop",
        achieved,
        acks.getValueAtPercentile(50) / 1000.0, acks.getValueAtPercentile(99) / 1000.0,
        latencies.getValueAtPercentile(50) / 1000.0, latencies.getValueAtPercentile(99) / 1000.0,
        delivered.get(), Math.max(0, expected - delivered.get()),
        pids.length == 0 ? "" : String.format(Locale.ROOT, " cpu_ms=%d jit_ms=%d hz_ms=%d cpu_us_per_append=%.1f",
            cpu[0], cpu[1], cpu[2], appends == 0 ? 0.0 : cpu[0] * 1000.0 / appends));
    for (CompletableFuture<?> r : readers) {
      r.cancel(true);
    }
    for (WebSocket socket : sockets) {
      socket.abort();
    }
    executor.shutdownNow();
    System.exit(0);
  }

  /** The server processes named by {@code BENCH_PIDS} (comma-separated), none if unset. */
  static long[] serverPids() {
    String pids = System.getenv("BENCH_PIDS");
    if (pids == null || pids.isBlank()) {
      return new long[0];
    }
    return java.util.Arrays.stream(pids.split(",")).map(String::trim).filter(p -> !p.isEmpty())
        .mapToLong(Long::parseLong).toArray();
  }

  /**
   * CPU time (user + system) the given processes have used, read from {@code /proc/<pid>/stat} (the whole
   * process) and {@code /proc/<pid>/task/<tid>/stat} (each thread), fields 14 and 15, in clock ticks (100
   * per second on Linux). {@link #since} turns two of them into the CPU of a window.
   */
  static CpuSnapshot cpuSnapshot(long[] pids) {
    long ticks = 0;
    java.util.Map<String, long[]> threads = new java.util.HashMap<>();
    for (long pid : pids) {
      ticks += statTicks(java.nio.file.Path.of("/proc/" + pid + "/stat"));
      try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/" + pid + "/task"))) {
        for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) tasks::iterator) {
          try {
            String comm = java.nio.file.Files.readString(task.resolve("comm"));
            long kind = comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre") ? 1
                : comm.startsWith("hz.") ? 2 : 0;
            threads.put(pid + "/" + task.getFileName(), new long[] {kind, statTicks(task.resolve("stat"))});
          } catch (IllegalStateException | java.io.IOException e) {
            // The thread ended between the listing and the read.
          }
        }
      } catch (java.io.IOException e) {
        throw new IllegalStateException("cannot list the threads of process " + pid, e);
      }
    }
    return new CpuSnapshot(ticks, threads);
  }

  /** The CPU ticks of some processes at one moment: the whole, and each thread with its kind. */
  record CpuSnapshot(long ticks, java.util.Map<String, long[]> threads) {

    /**
     * CPU used between {@code before} and this snapshot, in milliseconds: element 0 all of it, element 1
     * that of the JIT compiler threads (HotSpot's "C1/C2 CompilerThread"), element 2 that of Hazelcast's
     * own threads (named "hz.": the partition threads that run Tether's entry processors and backups, and
     * the member's network threads). Elements 1 and 2 add up each thread's own difference: a thread that
     * started in the window counts whole, one that ended in it (HotSpot stops idle compiler threads) is
     * missed, and never subtracted. Element 0 comes from the processes' own figures and misses nothing.
     */
    long[] since(CpuSnapshot before) {
      long jit = 0;
      long hazelcast = 0;
      for (java.util.Map.Entry<String, long[]> thread : threads.entrySet()) {
        long[] earlier = before.threads.get(thread.getKey());
        long now = thread.getValue()[1];
        // No earlier figure, or a smaller one (a new thread that got an ended one's id): all of it is new.
        long used = earlier == null || now < earlier[1] ? now : now - earlier[1];
        if (thread.getValue()[0] == 1) {
          jit += used;
        } else if (thread.getValue()[0] == 2) {
          hazelcast += used;
        }
      }
      return new long[] {(ticks - before.ticks) * 10, jit * 10, hazelcast * 10};
    }
  }

  private static long statTicks(java.nio.file.Path stat) {
    try {
      String line = java.nio.file.Files.readString(stat);
      // The command name (field 2) may hold spaces; the fields after it follow its closing parenthesis.
      String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot read " + stat, e);
    }
  }

  /** A base URL whose node does not own {@code stream} (the owner is asked on the first node). */
  static String nonOwner(HttpClient client, String[] bases, String stream) {
    try {
      String body = client.send(HttpRequest.newBuilder(URI.create(bases[0] + "/v1/admin/streams/" + stream)).GET().build(),
          HttpResponse.BodyHandlers.ofString()).body();
      int at = body.indexOf("\"httpPort\":");
      int port = Integer.parseInt(body.substring(at + 11, body.indexOf(',', at)));
      for (String b : bases) {
        if (!b.endsWith(":" + port)) {
          return b;
        }
      }
      return bases[0];
    } catch (Exception e) {
      throw new IllegalStateException("owner look-up of " + stream + " failed", e);
    }
  }

  /** Counts each {@code t=<nanos>;} token of a delivered event once, with its latency. */
  private static final class Deliveries {
    private final CountDownLatch live;
    private final Recorder delivery;
    private final AtomicLong delivered;
    private final AtomicLong measureStart;

    Deliveries(CountDownLatch live, Recorder delivery, AtomicLong delivered, AtomicLong measureStart) {
      this.live = live;
      this.delivery = delivery;
      this.delivered = delivered;
      this.measureStart = measureStart;
    }

    void record(String data) {
      recordSendTimes(data, measureStart.get(), delivery, delivered);
    }
  }

  /**
   * Records the latency (µs, to now) of each {@code t=<nanos>;} send time in a delivered payload that is
   * not before {@code since}, and counts it as delivered.
   */
  static void recordSendTimes(String data, long since, Recorder latency, AtomicLong delivered) {
    long now = System.nanoTime();
    int i = 0;
    while ((i = data.indexOf("t=", i)) >= 0) {
      int end = data.indexOf(';', i);
      if (end < 0) {
        break;
      }
      long sent = Long.parseLong(data.substring(i + 2, end));
      if (sent >= since) {
        latency.recordValue(Math.max(1, (now - sent) / 1000));
        delivered.incrementAndGet();
      }
      i = end + 1;
    }
  }

  /** Parses SSE lines: the first control event marks the reader live, every data line is delivered. */
  private static final class SseLines implements Flow.Subscriber<String> {
    private final Deliveries deliveries;
    private boolean counted;

    SseLines(Deliveries deliveries) {
      this.deliveries = deliveries;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(String line) {
      if (!counted && line.contains("streamNextOffset")) {
        counted = true;
        deliveries.live.countDown();
      }
      if (line.startsWith("data:") && !line.startsWith("data:{")) {
        deliveries.record(line.substring(5));
      }
    }

    @Override
    public void onError(Throwable throwable) {
    }

    @Override
    public void onComplete() {
    }
  }

  /** Reads WebSocket frames (docs/protocol.md): the first control frame marks the reader live. */
  private static final class WsFrames implements WebSocket.Listener {
    private final Deliveries deliveries;
    private final StringBuilder frame = new StringBuilder();
    private boolean counted;

    WsFrames(Deliveries deliveries) {
      this.deliveries = deliveries;
    }

    @Override
    public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
      frame.append(data);
      if (last) {
        String text = frame.toString();
        frame.setLength(0);
        if (text.startsWith("{\"type\":\"data\"")) {
          deliveries.record(text);
        } else if (!counted && text.startsWith("{\"type\":\"control\"")) {
          counted = true;
          deliveries.live.countDown();
        }
      }
      socket.request(1);
      return null;
    }
  }

  static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
