package io.tether.cluster;

import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.LocalCluster;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Nothing is visible before it is replicated, and a process that wakes from a pause acknowledges
 * nothing: a 3-node cluster of real processes, one member frozen with SIGSTOP at a time.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicationSafetyIT {

  private static LocalCluster cluster;
  private static final Http[] http = new Http[4];
  private static final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() {
    cluster = new LocalCluster(18_480, 16_100);
    cluster.run("up", "3");
    for (int i = 1; i <= 3; i++) {
      http[i] = new Http(cluster.port(i));
    }
  }

  @AfterAll
  static void stop() {
    for (int i = 1; i <= 3; i++) {
      if (http[i] != null) {
        http[i].close();
      }
    }
    if (cluster != null) {
      for (int i = 1; i <= 3; i++) {
        try {
          cluster.signal(i, "CONT");
        } catch (RuntimeException ignored) {
          // not running
        }
      }
      cluster.close();
    }
  }

  private static JsonObject admin(String stream, int via) {
    Resp r = http[via].get("/v1/admin/streams/" + stream);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    return r.json();
  }

  private static int node(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  private static CompletableFuture<HttpResponse<String>> postAsync(int node, String path, Map<String, String> headers,
                                                                   String body) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + cluster.port(node) + path))
        .timeout(Duration.ofSeconds(40)).POST(HttpRequest.BodyPublishers.ofString(body));
    request.header("Content-Type", "text/plain");
    headers.forEach(request::header);
    return client.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static Map<String, String> producer(long seq) {
    return Map.of("Producer-Id", "writer", "Producer-Epoch", "0", "Producer-Seq", Long.toString(seq));
  }

  @Test
  @Order(1)
  void anAppendWhoseBackupStallsIsNeitherReadableNorAcknowledgedUntilTheBackupHasIt() throws Exception {
    String stream = "stall-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    JsonObject where = admin(stream, 1);
    int owner = node(where.getJsonObject("owner").getString("nodeId"));
    int backup = node(where.getString("backupNodeId"));
    assertThat(http[owner].request(HttpMethod.POST, path, Map.of("Content-Type", "text/plain", "Producer-Id", "writer",
        "Producer-Epoch", "0", "Producer-Seq", "0"), "a;".getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);

    cluster.signal(backup, "STOP");
    CompletableFuture<HttpResponse<String>> second;
    try {
      // The primary applies "b;" at once but its backup cannot acknowledge it. The producer's own retries
      // (the router resends a producer append that times out) find it as a duplicate of an append still
      // in flight: they are held too.
      second = postAsync(owner, path, producer(1), "b;");
      long until = System.currentTimeMillis() + 3_000;
      while (System.currentTimeMillis() < until) {
        assertThat(http[owner].get(path + "?offset=-1").body()).as("catch-up read on the primary").isEqualTo("a;");
        assertThat(second.isDone() && second.get().statusCode() / 100 == 2)
            .as("append acknowledged while its backup is frozen").isFalse();
        Thread.sleep(200);
      }
    } finally {
      cluster.signal(backup, "CONT");
    }
    await().atMost(Duration.ofSeconds(30)).until(second::isDone);
    assertThat(second.get().statusCode()).as(second.get().body()).isIn(200, 204);
    assertThat(http[owner].get(path + "?offset=-1").body()).isEqualTo("a;b;");
  }

  @Test
  @Order(2)
  void anOwnerThatWakesFromAPauseAcknowledgesNothingThatIsLaterLost() throws Exception {
    await().atMost(Duration.ofSeconds(60)).until(() -> allReady(3));
    String stream = "pause-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    int owner = node(admin(stream, 1).getJsonObject("owner").getString("nodeId"));
    List<Integer> others = new ArrayList<>(List.of(1, 2, 3));
    others.remove(Integer.valueOf(owner));

    List<String> acknowledged = new ArrayList<>();
    List<String> unknown = new ArrayList<>();
    cluster.signal(owner, "STOP");
    try {
      // The majority detects the loss, claims the stream, and takes appends. The owner stays frozen for
      // at least 10 s and until the majority has acknowledged one (on a starved machine a survivor can
      // stall too, and the two survivors then need a merge before they form a majority again).
      long frozen = System.currentTimeMillis();
      int i = 0;
      while (System.currentTimeMillis() < frozen + 10_000
          || (acknowledged.isEmpty() && System.currentTimeMillis() < frozen + 60_000)) {
        String body = "m" + i++ + ";";
        Resp r = http[others.get(i % 2)].post(path, "text/plain", body);
        (r.status() / 100 == 2 ? acknowledged : unknown).add(body);
        Thread.sleep(100);
      }
    } finally {
      cluster.signal(owner, "CONT");
    }
    // The woken owner believes for a while that it still owns the stream, then that it is alone. Whatever
    // it answers, nothing it acknowledges may go missing.
    List<CompletableFuture<HttpResponse<String>>> woken = new ArrayList<>();
    List<String> wokenBodies = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String body = "w" + i + ";";
      wokenBodies.add(body);
      woken.add(postAsync(owner, path, Map.of(), body));
      Thread.sleep(300);
    }
    for (int i = 0; i < woken.size(); i++) {
      HttpResponse<String> r;
      try {
        r = woken.get(i).get();
      } catch (Exception e) {
        unknown.add(wokenBodies.get(i));
        continue;
      }
      (r.statusCode() / 100 == 2 ? acknowledged : unknown).add(wokenBodies.get(i));
    }
    String all = http[others.get(0)].get(path + "?offset=-1").body();
    for (String body : acknowledged) {
      assertThat(count(all, body)).as("acknowledged %s appears exactly once in %s", body, all).isEqualTo(1);
    }
    for (String body : unknown) {
      assertThat(count(all, body)).as("unacknowledged %s appears at most once", body).isLessThanOrEqualTo(1);
    }
    assertThat(acknowledged).as("the majority took appends while the owner was frozen").anyMatch(b -> b.startsWith("m"));
  }

  private static boolean allReady(int n) {
    for (int i = 1; i <= n; i++) {
      try {
        // Ready, and every partition's backups in place again (readiness alone does not say that).
        Resp ready = http[i].get("/health/ready");
        if (ready.status() != 200 || !ready.json().getBoolean("partitionsSafe")) {
          return false;
        }
      } catch (RuntimeException e) {
        return false;
      }
    }
    return true;
  }

  private static int count(String all, String body) {
    int n = 0;
    for (String part : all.split(";")) {
      if ((part + ";").equals(body)) {
        n++;
      }
    }
    return n;
  }
}
