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
 * A 3|2 network partition of a 5-node cluster (network namespaces, root only) that leaves both copies of a
 * stream on the minority side. The majority has no copy of it: it must not answer "not found" (a client
 * would give up, or create the stream again and the merge would keep that new stream in place of the
 * first), but "unavailable, retry". After the merge the stream is back, whole, on every node.
 */
class LostPartitionIT {

  private static final int NODES = 5;
  private static LocalCluster cluster;
  private static final Http[] http = new Http[NODES + 1];

  @BeforeAll
  static void start() {
    assumeTrue(LocalCluster.networkNamespacesAvailable(),
        "network namespaces are not available (needs root and ip netns): the partition test is skipped");
    cluster = new LocalCluster(18_680, 16_400)
        .env("TETHER_NETNS", "on")
        .env("TETHER_NETNS_ID", "10")
        .env("TETHER_JVM_OPTS", "-Xmx256m")
        .env("TETHER_CLUSTER_DIR", java.nio.file.Path.of("target/lost-partition-cluster").toAbsolutePath().toString());
    cluster.run("up", Integer.toString(NODES));
    for (int i = 1; i <= NODES; i++) {
      http[i] = new Http(cluster.host(i), cluster.port(i));
    }
  }

  @AfterAll
  static void stop() {
    for (int i = 1; i <= NODES; i++) {
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

  private static int node(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  /** The answer, or {@code null} when none came. */
  private static Resp call(java.util.function.Supplier<Resp> request) {
    try {
      return request.get();
    } catch (RuntimeException | AssertionError noAnswer) {
      return null;
    }
  }

  private static String code(Resp r) {
    try {
      return r.json().getJsonObject("error").getString("code");
    } catch (RuntimeException notJson) {
      return null;
    }
  }

  @Test
  void theMajorityWithoutACopyAnswersUnavailableNeverNotFoundAndTheMergeBringsTheStreamBack() throws Exception {
    String stream = "lost-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http[1].put(path, "text/plain", null).status()).isEqualTo(201);
    JsonObject where = http[1].get("/v1/admin/streams/" + stream).json();
    int owner = node(where.getJsonObject("owner").getString("nodeId"));
    int backup = node(where.getString("backupNodeId"));
    assertThat(http[owner].post(path, "text/plain", "a;").status()).isIn(200, 204);
    assertThat(http[owner].post(path, "text/plain", "b;").status()).isIn(200, 204);
    List<Integer> majority = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      if (i != owner && i != backup) {
        majority.add(i);
      }
    }

    List<String> answers = new ArrayList<>();
    boolean sawUnavailable = false;
    cluster.run("partition", owner + "," + backup);
    try {
      long cut = System.currentTimeMillis();
      int i = 0;
      while (System.currentTimeMillis() < cut + 25_000) {
        int via = majority.get(i++ % majority.size());
        Resp read = call(() -> http[via].get(path + "?offset=-1"));
        Resp create = call(() -> http[via].put(path, "text/plain", null));
        Resp append = call(() -> http[via].post(path, "text/plain", "majority;"));
        for (Resp r : new Resp[] {read, create, append}) {
          if (r != null) {
            answers.add(r.status() + " " + code(r));
            sawUnavailable |= r.status() == 503 && "partition_unavailable".equals(code(r))
                && r.header("Retry-After") != null;
          }
        }
        assertThat(read == null || read.status() != 404).as("read on the majority (stream %s): %s", where, answers).isTrue();
        assertThat(create == null || create.status() / 100 != 2).as("create on the majority (stream %s): %s", where, answers).isTrue();
        assertThat(append == null || append.status() / 100 != 2).as("append on the majority (stream %s): %s", where, answers).isTrue();
        Thread.sleep(200);
      }
    } finally {
      cluster.run("heal");
    }
    assertThat(sawUnavailable).as("the majority answered 503 partition_unavailable with Retry-After: %s", answers)
        .isTrue();

    await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500)).until(() -> {
      for (int n = 1; n <= NODES; n++) {
        int via = n;
        Resp r = call(() -> http[via].get("/health/ready"));
        if (r == null || !r.body().startsWith("{") || r.json().getInteger("members", 0) != NODES
            || !r.json().getBoolean("quorum", false)) {
          return false;
        }
      }
      return true;
    });
    for (int n = 1; n <= NODES; n++) {
      int via = n;
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        Resp r = call(() -> http[via].get(path + "?offset=-1"));
        return r != null && r.status() == 200;
      });
      assertThat(http[via].get(path + "?offset=-1").body()).as("the stream read through node %d", via)
          .isEqualTo("a;b;");
    }
    assertThat(http[majority.get(0)].post(path, "text/plain", "c;").status()).isIn(200, 204);
  }
}
