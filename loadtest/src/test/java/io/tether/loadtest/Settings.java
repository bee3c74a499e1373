package io.tether.loadtest;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Load-test parameters, from system properties (-DbaseUrls=... -Dusers=... -DrampSeconds=...). */
final class Settings {

  static final List<String> BASE_URLS = Arrays.stream(System.getProperty("baseUrls", "http://127.0.0.1:8081").split(","))
      .map(String::trim).filter(s -> !s.isEmpty()).toList();
  static final int USERS = Integer.getInteger("users", 20);
  static final int RAMP_SECONDS = Integer.getInteger("rampSeconds", 20);
  /** Longest a user waits for its answer to complete (node kills included). */
  static final Duration ANSWER_DEADLINE = Duration.ofSeconds(Integer.getInteger("answerDeadlineSeconds", 90));
  /** A connection silent this long is given up and replaced (server heartbeats are much more frequent). */
  static final long STALE_MILLIS = Long.getLong("staleMillis", 6_000);

  private static final HttpClient PROBE = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(300)).build();
  private static final Map<String, Boolean> READY = new ConcurrentHashMap<>();

  static {
    // Readiness is probed off Gatling's threads (they must never block), every 250 ms.
    BASE_URLS.forEach(base -> READY.put(base, true));
    ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "readiness-prober");
      t.setDaemon(true);
      return t;
    });
    prober.scheduleWithFixedDelay(() -> BASE_URLS.forEach(base -> PROBE.sendAsync(
            HttpRequest.newBuilder(URI.create(base + "/health/ready")).timeout(Duration.ofMillis(500)).build(),
            HttpResponse.BodyHandlers.discarding())
        .whenComplete((r, e) -> READY.put(base, e == null && r.statusCode() == 200))), 0, 250, TimeUnit.MILLISECONDS);
  }

  private Settings() {
  }

  /**
   * A random node among those answering {@code /health/ready}, as a Kubernetes Service or a load
   * balancer routes only to ready pods (each node is probed every 250 ms).
   */
  static String liveBase() {
    List<String> live = BASE_URLS.stream().filter(READY::get).toList();
    List<String> from = live.isEmpty() ? BASE_URLS : live;
    return from.get(ThreadLocalRandom.current().nextInt(from.size()));
  }

  static String ws(String base) {
    return base.replaceFirst("^http", "ws");
  }
}
