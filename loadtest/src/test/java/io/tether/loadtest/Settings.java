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
import java.util.concurrent.ThreadLocalRandom;

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
  private static final Map<String, long[]> READY = new ConcurrentHashMap<>();

  private Settings() {
  }

  /**
   * A random node among those answering {@code /health/ready}, as a Kubernetes Service or a load
   * balancer routes only to ready pods (each node's state is re-probed at most every 250 ms).
   */
  static String liveBase() {
    List<String> live = BASE_URLS.stream().filter(Settings::ready).toList();
    List<String> from = live.isEmpty() ? BASE_URLS : live;
    return from.get(ThreadLocalRandom.current().nextInt(from.size()));
  }

  private static boolean ready(String base) {
    long now = System.currentTimeMillis();
    long[] state = READY.computeIfAbsent(base, b -> new long[] {0, 0});
    synchronized (state) {
      if (now - state[0] > 250) {
        state[0] = now;
        try {
          HttpResponse<Void> r = PROBE.send(HttpRequest.newBuilder(URI.create(base + "/health/ready"))
              .timeout(Duration.ofMillis(500)).build(), HttpResponse.BodyHandlers.discarding());
          state[1] = r.statusCode() == 200 ? 1 : 0;
        } catch (Exception e) {
          state[1] = 0;
        }
      }
      return state[1] == 1;
    }
  }

  static String ws(String base) {
    return base.replaceFirst("^http", "ws");
  }
}
