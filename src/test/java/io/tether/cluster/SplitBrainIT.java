package io.tether.cluster;

import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.LocalCluster;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real 2|1 network partition of a 3-node cluster, each node in its own network namespace (root only;
 * skipped, and said so, elsewhere). Writers append on both sides while the stream's owner is cut off: the
 * cut-off side refuses writes with {@code 503} and {@code Retry-After} and reports itself not ready, the
 * majority claims the stream and takes the writes, and once the sides have merged every acknowledged
 * append is stored exactly once, the same on every node.
 */
class SplitBrainIT {

  private static LocalCluster cluster;
  private static final Http[] http = new Http[4];

  @BeforeAll
  static void start() {
    assumeTrue(LocalCluster.networkNamespacesAvailable(),
        "network namespaces are not available (needs root and ip netns): the partition test is skipped");
    cluster = new LocalCluster(18_580, 16_300)
        .env("TETHER_NETNS", "on")
        .env("TETHER_NETNS_ID", "9")
        .env("TETHER_CLUSTER_DIR", java.nio.file.Path.of("target/split-brain-cluster").toAbsolutePath().toString());
    cluster.run("up", "3");
    for (int i = 1; i <= 3; i++) {
      http[i] = new Http(cluster.host(i), cluster.port(i));
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
      try {
        cluster.run("heal");
      } finally {
        cluster.close();
      }
    }
  }

  /** One append's answer, or {@code null} when no answer came (the outcome is then unknown). */
  private static Resp append(int node, String path, String body) {
    try {
      return http[node].post(path, "text/plain", body);
    } catch (RuntimeException | AssertionError noAnswer) {
      return null;
    }
  }

  private static JsonObject ready(int node) {
    try {
      Resp r = http[node].get("/health/ready");
      return r.body().startsWith("{") ? r.json().put("httpStatus", r.status()) : null;
    } catch (RuntimeException | AssertionError noAnswer) {
      return null;
    }
  }

  @Test
  void theCutOffSideRefusesWritesAndTheMergeLosesNothingAcknowledged() throws Exception {
    String stream = "split-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    Resp where = http[1].get("/v1/admin/streams/" + stream);
    assertThat(where.status()).as(where.body()).isEqualTo(200);
    int owner = Integer.parseInt(where.json().getJsonObject("owner").getString("nodeId").substring("node-".length()));
    List<Integer> majority = new ArrayList<>(List.of(1, 2, 3));
    majority.remove(Integer.valueOf(owner));
    assertThat(http[owner].post(path, "text/plain", "before;").status()).isIn(200, 204);

    List<String> acknowledged = new ArrayList<>(List.of("before;"));
    List<String> notAcknowledged = new ArrayList<>();
    boolean minorityRefusedWithRetryAfter = false;
    boolean minorityNotReady = false;
    int majorityAcknowledged = 0;

    cluster.run("partition", Integer.toString(owner));
    try {
      long cut = System.currentTimeMillis();
      int i = 0;
      while (System.currentTimeMillis() < cut + 20_000) {
        // Alternately on the cut-off owner and on the majority side.
        int node = i % 2 == 0 ? owner : majority.get((i / 2) % 2);
        String body = (node == owner ? "minority-" : "majority-") + i++ + ";";
        Resp r = append(node, path, body);
        if (r != null && r.status() / 100 == 2) {
          acknowledged.add(body);
          majorityAcknowledged += node == owner ? 0 : 1;
        } else {
          notAcknowledged.add(body);
          if (node == owner && r != null && r.status() == 503 && r.header("Retry-After") != null
              && System.currentTimeMillis() > cut + 5_000) {
            minorityRefusedWithRetryAfter = true;
          }
        }
        if (node == owner && System.currentTimeMillis() > cut + 5_000) {
          JsonObject state = ready(owner);
          minorityNotReady |= state != null && state.getInteger("httpStatus") == 503
              && !state.getBoolean("quorum", true);
        }
        Thread.sleep(100);
      }
    } finally {
      cluster.run("heal");
    }

    assertThat(minorityRefusedWithRetryAfter).as("the cut-off owner refused an append with 503 and Retry-After").isTrue();
    assertThat(minorityNotReady).as("the cut-off owner reported itself not ready, without a quorum").isTrue();
    assertThat(majorityAcknowledged).as("the majority took appends while the owner was cut off").isPositive();

    // The sides merge: every node sees three members and a quorum again.
    await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500)).until(() -> {
      for (int n = 1; n <= 3; n++) {
        JsonObject state = ready(n);
        if (state == null || state.getInteger("members", 0) != 3 || !state.getBoolean("quorum", false)) {
          return false;
        }
      }
      return true;
    });
    String[] seen = new String[4];
    for (int n = 1; n <= 3; n++) {
      int node = n;
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        Resp r = http[node].get(path + "?offset=-1");
        seen[node] = r.status() == 200 ? r.body() : null;
        return seen[node] != null;
      });
    }
    assertThat(seen[2]).as("node 2 and node 1 read the same stream").isEqualTo(seen[1]);
    assertThat(seen[3]).as("node 3 and node 1 read the same stream").isEqualTo(seen[1]);
    for (String body : acknowledged) {
      assertThat(count(seen[1], body)).as("acknowledged %s appears exactly once in %s", body, seen[1]).isEqualTo(1);
    }
    for (String body : notAcknowledged) {
      assertThat(count(seen[1], body)).as("unacknowledged %s appears at most once", body).isLessThanOrEqualTo(1);
    }
  }

  private static int count(String all, String body) {
    int n = 0;
    for (int at = all.indexOf(body); at >= 0; at = all.indexOf(body, at + 1)) {
      n++;
    }
    return n;
  }
}
