package io.tether.bench;

import org.HdrHistogram.Histogram;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measurements on a running local cluster ({@code scripts/cluster.sh up 3}):
 *
 * <pre>
 * ClusterBench reconnect URLS STREAMS SAMPLES     reconnect on a non-owner node -> first replayed event
 * ClusterBench create URLS CONCURRENCY SECONDS    streams created per second (PUT) over all nodes
 * ClusterBench failover URLS TRIALS               SIGKILL of a stream's owner -> writable through a survivor
 * </pre>
 *
 * URLS are the nodes' base URLs, comma-separated, in node order (node 1 first). Each prints one
 * {@code RESULT} line.
 */
public final class ClusterBench {

  private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private ClusterBench() {
  }

  public static void main(String[] args) throws Exception {
    String[] bases = args[1].split(",");
    switch (args[0]) {
      case "reconnect" -> reconnect(bases, Integer.parseInt(args[2]), Integer.parseInt(args[3]));
      case "create" -> create(bases, Integer.parseInt(args[2]), Integer.parseInt(args[3]));
      case "failover" -> failover(bases, Integer.parseInt(args[2]));
      default -> throw new IllegalArgumentException("unknown measurement " + args[0]);
    }
    System.exit(0);
  }

  // ------------------------------------------------------------------------------------------ reconnect

  /**
   * Streams with 20 events each; every sample opens an SSE read from the 10th event on a node that does
   * not own the stream and times the first replayed data line. Samples run one after another.
   */
  static void reconnect(String[] bases, int streams, int samples) throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 8);
    List<String> names = new ArrayList<>();
    List<String> readers = new ArrayList<>();
    List<String> offsets = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      String name = "reconnect-" + run + "-" + i;
      names.add(name);
      send("PUT", bases[0] + "/v1/stream/" + name, null);
      String offset = null;
      for (int e = 0; e < 20; e++) {
        HttpResponse<String> r = send("POST", bases[e % bases.length] + "/v1/stream/" + name, "event-" + e + ";");
        if (e == 9) {
          offset = r.headers().firstValue("Stream-Next-Offset").orElseThrow();
        }
      }
      offsets.add(offset);
      readers.add(StreamLoad.nonOwner(CLIENT, bases, name));
    }
    Histogram latency = new Histogram(3);
    for (int s = 0; s < samples; s++) {
      int i = s % streams;
      URI uri = URI.create(readers.get(i) + "/v1/stream/" + names.get(i) + "?live=sse&offset=" + offsets.get(i));
      CompletableFuture<Long> first = new CompletableFuture<>();
      long started = System.nanoTime();
      CompletableFuture<HttpResponse<Void>> response = CLIENT.sendAsync(HttpRequest.newBuilder(uri).GET().build(),
          HttpResponse.BodyHandlers.fromLineSubscriber(new FirstData(first)));
      long nanos = first.get(10, TimeUnit.SECONDS) - started;
      response.cancel(true);
      if (s >= samples / 10) {
        latency.recordValue(Math.max(1, nanos / 1000));
      }
    }
    System.out.printf(Locale.ROOT, "RESULT reconnect streams=%d samples=%d first_event_p50_ms=%.2f first_event_p99_ms=%.2f "
            + "first_event_max_ms=%.2f%n", streams, latency.getTotalCount(), latency.getValueAtPercentile(50) / 1000.0,
        latency.getValueAtPercentile(99) / 1000.0, latency.getMaxValue() / 1000.0);
  }

  /** Completes with the time the first {@code data:} line arrived. */
  private static final class FirstData implements Flow.Subscriber<String> {
    private final CompletableFuture<Long> first;

    FirstData(CompletableFuture<Long> first) {
      this.first = first;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(String line) {
      if (line.startsWith("data:") && !line.startsWith("data:{")) {
        first.complete(System.nanoTime());
      }
    }

    @Override
    public void onError(Throwable throwable) {
      first.completeExceptionally(throwable);
    }

    @Override
    public void onComplete() {
    }
  }

  // ------------------------------------------------------------------------------------------ create

  /** {@code concurrency} threads create streams (PUT) round-robin over the nodes for {@code seconds}. */
  static void create(String[] bases, int concurrency, int seconds) throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 8);
    AtomicLong created = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    AtomicLong sequence = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < concurrency; t++) {
      Thread thread = new Thread(() -> {
        while (running.get()) {
          long n = sequence.incrementAndGet();
          long started = System.nanoTime();
          try {
            HttpResponse<String> r = send("PUT", bases[(int) (n % bases.length)] + "/v1/stream/create-" + run + "-" + n, null);
            if (r.statusCode() == 201) {
              created.incrementAndGet();
              latencies.add(System.nanoTime() - started);
            } else {
              failed.incrementAndGet();
            }
          } catch (Exception e) {
            failed.incrementAndGet();
          }
        }
      });
      thread.start();
      threads.add(thread);
    }
    Thread.sleep(seconds * 1000L);
    running.set(false);
    for (Thread thread : threads) {
      thread.join();
    }
    Histogram h = new Histogram(3);
    synchronized (latencies) {
      latencies.forEach(n -> h.recordValue(Math.max(1, n / 1000)));
    }
    System.out.printf(Locale.ROOT, "RESULT create concurrency=%d created=%d failed=%d per_second=%.0f p50_ms=%.2f p99_ms=%.2f%n",
        concurrency, created.get(), failed.get(), created.get() / (double) seconds,
        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
  }

  // ------------------------------------------------------------------------------------------ failover

  /**
   * Each trial: create a stream, append 5 events with an idempotent producer through every node, SIGKILL
   * the owner ({@code scripts/cluster.sh kill}), append through a survivor until acknowledged, check
   * that every acknowledged event is there once, then restart the node.
   */
  static void failover(String[] bases, int trials) throws Exception {
    Histogram writable = new Histogram(3);
    List<Long> each = new ArrayList<>();
    for (int trial = 0; trial < trials; trial++) {
      String name = "failover-" + UUID.randomUUID();
      send("PUT", bases[0] + "/v1/stream/" + name, null);
      for (int seq = 0; seq < 5; seq++) {
        produce(bases[seq % bases.length], name, seq);
      }
      String admin = send("GET", bases[0] + "/v1/admin/streams/" + name, null).body();
      int owner = Integer.parseInt(admin.replaceAll(".*\"nodeId\":\"node-(\\d+)\".*", "$1"));
      String survivor = bases[owner % bases.length];
      cluster("kill", owner);
      long killed = System.nanoTime();
      long[] detected = {-1};
      Thread watcher = new Thread(() -> {
        while (detected[0] < 0 && System.nanoTime() - killed < 30_000_000_000L) {
          try {
            if (send("GET", survivor + "/health/ready", null).body().contains("\"members\":2")) {
              detected[0] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            }
            Thread.sleep(10);
          } catch (Exception e) {
            return;
          }
        }
      });
      watcher.start();
      while (true) {
        try {
          int status = produce(survivor, name, 5);
          if (status == 200 || status == 204) {
            break;
          }
        } catch (Exception e) {
          // keep trying until the survivor answers
        }
        Thread.sleep(10);
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
      watcher.join();
      writable.recordValue(millis);
      each.add(millis);
      String content = send("GET", survivor + "/v1/stream/" + name + "?offset=-1", null).body();
      if (!content.equals("e0;e1;e2;e3;e4;e5;")) {
        throw new IllegalStateException("trial " + trial + ": stream holds " + content);
      }
      System.err.println("trial " + (trial + 1) + ": owner node-" + owner + " killed; the survivor saw 2 members after "
          + detected[0] + " ms; writable after " + millis + " ms");
      cluster("start", owner);
    }
    System.out.printf(Locale.ROOT, "RESULT failover trials=%d writable_median_ms=%d writable_max_ms=%d each_ms=%s%n",
        trials, writable.getValueAtPercentile(50), writable.getMaxValue(), each);
  }

  private static int produce(String base, String name, int seq) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/stream/" + name))
        .timeout(Duration.ofSeconds(10))
        .header("Content-Type", "text/plain").header("Producer-Id", "bench").header("Producer-Epoch", "0")
        .header("Producer-Seq", Integer.toString(seq))
        .POST(HttpRequest.BodyPublishers.ofString("e" + seq + ";")).build();
    int status = CLIENT.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    if (status == 403 || status == 409) {
      throw new IllegalStateException("producer refused with " + status + " at seq " + seq);
    }
    return status;
  }

  private static void cluster(String command, int node) throws Exception {
    Process process = new ProcessBuilder("scripts/cluster.sh", command, Integer.toString(node))
        .redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException("cluster.sh " + command + " " + node + " failed: " + output);
    }
  }

  private static HttpResponse<String> send(String method, String url, String body) throws Exception {
    HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
        .header("Content-Type", "text/plain");
    builder.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return CLIENT.send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }
}
