package io.tether.ops;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Readiness says whether <em>this</em> node can serve, not whether the cluster's partitions are
 * replicated: while partitions migrate after a member dies, the survivors stay ready (a readiness that
 * followed replication safety took every pod out of the Service at once), and the migration shows in
 * {@code partitionsSafe} and {@code /v1/admin/cluster} instead.
 */
class ReadinessIT {

  @Test
  void survivorsStayReadyWhilePartitionsMigrateAfterAMemberDies() throws Exception {
    List<TetherNode> nodes = new ArrayList<>();
    List<Http> clients = new ArrayList<>();
    try {
      nodes.addAll(TestNodes.cluster("readiness", 3, Map.of()));
      nodes.forEach(n -> clients.add(new Http(n.httpPort())));
      // Each node's probe sees the safe cluster within a second, and from then on the node is settled.
      await().atMost(Duration.ofSeconds(30)).until(() -> clients.stream().allMatch(c -> c.get("/health/ready").status() == 200));
      for (Http client : clients) {
        assertThat(client.get("/health/ready").json().getBoolean("settled")).isTrue();
      }
      // Data in many partitions, so that the survivors have replicas to copy once a member is gone.
      for (int i = 0; i < 600; i++) {
        assertThat(clients.get(i % 2).put("/v1/stream/ready-" + i + "-" + UUID.randomUUID(), "text/plain",
            "x".repeat(2_000)).status()).isEqualTo(201);
      }

      AtomicBoolean polling = new AtomicBoolean(true);
      List<String> notReady = new CopyOnWriteArrayList<>();
      List<Boolean> safeSeen = new CopyOnWriteArrayList<>();
      List<Thread> pollers = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Http client = clients.get(i);
        Thread poller = new Thread(() -> {
          while (polling.get()) {
            Resp ready = client.get("/health/ready");
            JsonObject body = ready.json();
            safeSeen.add(body.getBoolean("partitionsSafe"));
            if (ready.status() != 200) {
              notReady.add(ready.status() + " " + ready.body());
            }
          }
        });
        poller.start();
        pollers.add(poller);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> safeSeen.size() >= 10);
      nodes.get(2).crash();
      // Until the survivors have copied every partition's backup again, and a little beyond.
      await().atMost(Duration.ofSeconds(120)).until(() -> nodes.subList(0, 2).stream()
          .allMatch(n -> n.hazelcast().getCluster().getMembers().size() == 2
              && n.hazelcast().getPartitionService().isClusterSafe()));
      await().atMost(Duration.ofSeconds(30)).until(() -> clients.subList(0, 2).stream()
          .allMatch(c -> c.get("/v1/admin/cluster").json().getBoolean("partitionsSafe")));
      polling.set(false);
      for (Thread poller : pollers) {
        poller.join(10_000);
      }

      assertThat(safeSeen).as("the probes saw the migration (partitionsSafe false at some point)").contains(false);
      assertThat(notReady).as("answers other than 200 from a survivor").isEmpty();
      JsonObject view = clients.get(0).get("/v1/admin/cluster").json();
      assertThat(view.getJsonArray("members").stream().map(String::valueOf).toList()).containsExactlyInAnyOrder(nodes.get(0).nodeId(), nodes.get(1).nodeId());
      assertThat(view.getBoolean("quorum")).isTrue();
    } finally {
      clients.forEach(Http::close);
      nodes.forEach(TestNodes::stop);
    }
  }
}
