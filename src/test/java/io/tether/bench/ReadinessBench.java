package io.tether.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Readiness of the survivors while partitions migrate after a member dies, on a cluster that holds many
 * streams: creates STREAMS streams through every node, polls {@code /health/ready} of every node but the
 * last every 100 ms, SIGKILLs the last node (through {@code scripts/cluster.sh kill}), and goes on until
 * every survivor's {@code /v1/admin/cluster} reports {@code partitionsSafe} again. Prints the answers
 * other than 200 (the expected count is 0) and how long the migration kept the cluster unsafe.
 *
 * <pre>
 * ReadinessBench URLS STREAMS
 * </pre>
 */
public final class ReadinessBench {

  private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  public static void main(String[] args) throws Exception {
    String[] bases = args[0].split(",");
    int streams = Integer.parseInt(args[1]);
    create(bases, streams);

    int survivors = bases.length - 1;
    AtomicBoolean polling = new AtomicBoolean(true);
    AtomicLong polls = new AtomicLong();
    AtomicLong notReady = new AtomicLong();
    AtomicLong unsafeSeen = new AtomicLong();
    AtomicReference<String> firstRefusal = new AtomicReference<>();
    List<Thread> pollers = new ArrayList<>();
    for (int i = 0; i < survivors; i++) {
      String base = bases[i];
      Thread poller = new Thread(() -> {
        while (polling.get()) {
          try {
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "/health/ready"))
                .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            polls.incrementAndGet();
            if (r.body().contains("\"partitionsSafe\":false")) {
              unsafeSeen.incrementAndGet();
            }
            if (r.statusCode() != 200) {
              notReady.incrementAndGet();
              firstRefusal.compareAndSet(null, base + " " + r.statusCode() + " " + r.body());
            }
          } catch (Exception e) {
            polls.incrementAndGet();
            notReady.incrementAndGet();
            firstRefusal.compareAndSet(null, base + " " + e);
          }
          sleep(100);
        }
      }, "ready-poller-" + i);
      poller.start();
      pollers.add(poller);
    }
    sleep(2_000);
    long killed = System.nanoTime();
    Process kill = new ProcessBuilder("scripts/cluster.sh", "kill", Integer.toString(bases.length)).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("cluster.sh kill failed");
    }
    // Until every survivor sees the member gone and every partition's backup in place again.
    long deadline = System.currentTimeMillis() + 600_000;
    while (true) {
      boolean safe = true;
      for (int i = 0; i < survivors && safe; i++) {
        String body = get(bases[i] + "/v1/admin/cluster");
        safe = body != null && body.contains("\"partitionsSafe\":true") && members(body) == survivors;
      }
      if (safe) {
        break;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("the survivors were not safe again within 10 minutes");
      }
      sleep(200);
    }
    long migrated = System.nanoTime();
    sleep(2_000);
    polling.set(false);
    for (Thread poller : pollers) {
      poller.join();
    }
    System.out.printf(Locale.ROOT, "RESULT readiness streams=%d survivors=%d polls=%d not_ready=%d polls_seeing_unsafe=%d "
            + "kill_to_safe_ms=%d%n", streams, survivors, polls.get(), notReady.get(), unsafeSeen.get(),
        (migrated - killed) / 1_000_000);
    if (firstRefusal.get() != null) {
      System.out.println("first answer other than 200: " + firstRefusal.get());
    }
    System.exit(notReady.get() == 0 ? 0 : 1);
  }

  private static int members(String body) {
    int start = body.indexOf("\"members\":[");
    if (start < 0) {
      return -1;
    }
    String list = body.substring(start + 11, body.indexOf(']', start));
    return list.isBlank() ? 0 : list.split(",").length;
  }

  private static void create(String[] bases, int streams) throws Exception {
    long started = System.nanoTime();
    String run = Long.toHexString(System.currentTimeMillis());
    Semaphore window = new Semaphore(32);
    AtomicLong failed = new AtomicLong();
    AtomicReference<String> lastError = new AtomicReference<>();
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < streams; i++) {
      window.acquire();
      HttpRequest put = HttpRequest.newBuilder(URI.create(bases[i % bases.length] + "/v1/stream/ready-" + run + "-" + i))
          .timeout(Duration.ofSeconds(30)).header("Content-Type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.ofString("x".repeat(32))).build();
      all.add(CLIENT.sendAsync(put, HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
        window.release();
        if (e != null || r.statusCode() != 201) {
          failed.incrementAndGet();
          lastError.set(e != null ? e.toString() : r.statusCode() + " " + r.body());
        }
      }));
      if (i > 0 && i % 20_000 == 0) {
        System.err.printf(Locale.ROOT, "  %d streams created (%.0f s)%n", i, (System.nanoTime() - started) / 1e9);
      }
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).exceptionally(e -> null).join();
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " creates failed: " + lastError.get());
    }
    System.err.printf(Locale.ROOT, "  %d streams created in %.0f s%n", streams, (System.nanoTime() - started) / 1e9);
  }

  private static String get(String url) {
    try {
      return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    } catch (Exception e) {
      return null;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
