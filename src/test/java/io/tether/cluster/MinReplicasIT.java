package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
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
 * {@code TETHER_MIN_REPLICAS=2}: a member that is left without a backup for a stream's partition
 * refuses writes to it (503 under_replicated, nothing stored) rather than acknowledge appends that only
 * it holds, and keeps serving reads.
 */
class MinReplicasIT {

  @Test
  void aPartitionWithoutABackupRefusesWritesAndServesReads() {
    String cluster = "min-replicas-" + UUID.randomUUID();
    int[] ports = {TestNodes.freePort(), TestNodes.freePort()};
    String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1];
    List<TetherNode> nodes = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      nodes.add(TestNodes.start(Map.of("TETHER_NODE_ID", cluster + "-" + i, "TETHER_CLUSTER_NAME", cluster,
          "TETHER_CLUSTER_PORT", Integer.toString(ports[i]), "TETHER_CLUSTER_MEMBERS", members,
          "TETHER_MIN_REPLICAS", "2")));
    }
    TetherNode survivor = nodes.get(0);
    try (Http http = new Http(survivor.httpPort())) {
      await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream()
          .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
      String path = "/v1/stream/min-replicas-" + UUID.randomUUID();
      assertThat(http.put(path, "text/plain", "a;").status()).isEqualTo(201);
      assertThat(http.post(path, "text/plain", "b;").status()).isEqualTo(204);

      nodes.get(1).crash();
      await().atMost(Duration.ofSeconds(30)).until(() -> survivor.hazelcast().getCluster().getMembers().size() == 1);
      // Reads go on; every write is refused, none stored.
      await().atMost(Duration.ofSeconds(30)).until(() -> http.get(path + "?offset=-1").status() == 200);
      for (int i = 0; i < 5; i++) {
        Resp refused = http.post(path, "text/plain", "c" + i + ";");
        assertThat(refused.status()).as(refused.body()).isEqualTo(503);
        assertThat(refused.errorCode()).isIn("under_replicated", "outcome_unknown");
        assertThat(refused.header("Retry-After")).isNotNull();
        // What went wrong inside the cluster is in the node's log; a client learns no member's address.
        assertThat(refused.body()).doesNotContain("127.0.0.1").doesNotContain("Member");
      }
      Resp under = http.post(path, "text/plain", "d;");
      assertThat(under.errorCode()).isEqualTo("under_replicated");
      assertThat(under.body()).as("names the partition only").doesNotContain("127.0.0.1").contains("partition");
      assertThat(http.get(path + "?offset=-1").body()).isEqualTo("a;b;");
      assertThat(http.put("/v1/stream/new-" + UUID.randomUUID(), "text/plain", null).errorCode())
          .isEqualTo("under_replicated");
    } finally {
      nodes.forEach(TestNodes::stop);
    }
  }
}
