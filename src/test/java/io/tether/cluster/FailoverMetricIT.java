package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code tether_failovers_total} counts the streams a node took over from a member that died, and only
 * those: a stream claimed from a live member (a handover) or created here does not count.
 */
class FailoverMetricIT {

  private static double failovers(TetherNode node) {
    return node.services().metrics().registry().get("tether.failovers").counter().count();
  }

  @Test
  void aStreamTakenFromAMemberThatDiedCountsAsAFailover() {
    String cluster = "failover-metric-" + UUID.randomUUID();
    int[] ports = {TestNodes.freePort(), TestNodes.freePort()};
    String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1];
    List<TetherNode> nodes = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      nodes.add(TestNodes.start(Map.of("TETHER_NODE_ID", cluster + "-" + i, "TETHER_CLUSTER_NAME", cluster,
          "TETHER_CLUSTER_PORT", Integer.toString(ports[i]), "TETHER_CLUSTER_MEMBERS", members)));
    }
    TetherNode survivor = nodes.get(0);
    TetherNode victim = nodes.get(1);
    try (Http http = new Http(survivor.httpPort())) {
      await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream()
          .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
      // A stream whose owner runs on the victim.
      String path = null;
      for (int i = 0; i < 100 && path == null; i++) {
        String candidate = "/v1/stream/failover-" + i + "-" + UUID.randomUUID();
        assertThat(http.put(candidate, "text/plain", "before").status()).isEqualTo(201);
        String owner = http.get("/v1/admin/streams/" + candidate.substring("/v1/stream/".length())).json()
            .getJsonObject("owner").getString("nodeId");
        if (owner.equals(victim.nodeId())) {
          path = candidate;
        }
      }
      assertThat(path).as("a stream owned by the victim").isNotNull();
      assertThat(failovers(survivor)).isZero();

      victim.crash();
      String stream = path;
      await().atMost(Duration.ofSeconds(30)).until(() -> http.post(stream, "text/plain", "after").status() == 204);
      assertThat(http.get(stream + "?offset=-1").body()).startsWith("before").endsWith("after");
      assertThat(failovers(survivor)).isGreaterThanOrEqualTo(1.0);
    } finally {
      nodes.forEach(TestNodes::stop);
    }
  }
}
