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
            try {
              Resp ready = client.get("/health/ready");
              JsonObject body = ready.json();
              safeSeen.add(body.getBoolean("partitionsSafe"));
              if (ready.status() != 200) {
                notReady.add(ready.status() + " " + ready.body());
              }
            } catch (RuntimeException e) {
              // Reported by this test, not thrown into whichever test awaits something next; one is enough.
              notReady.add("no answer: " + e);
              return;
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
        poller.join(30_000);
        assertThat(poller.isAlive()).as("a readiness poller still waiting for an answer").isFalse();
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

  /**
   * The safety check asks every member and walks every partition, so an idle node runs it rarely, yet a
   * reader always gets a current answer: reading keeps it fresh every second, and a member joining
   * makes it false at once (a migration follows), until a check sees the cluster safe again.
   */
  @Test
  void safetyIsCheckedOnlyWhenItMayHaveChangedOrIsRead() throws Exception {
    List<TetherNode> nodes = new ArrayList<>();
    try {
      nodes.addAll(TestNodes.cluster("probe", 2, Map.of()));
      var view = nodes.get(0).services().cluster();
      await().atMost(Duration.ofSeconds(30)).until(view::isSettled);
      // Nobody reads it: after the first reads (the settling ones) lapse, at most one check per 10 s.
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
        long before = view.safetyProbes();
        Thread.sleep(5_000);
        return view.safetyProbes() - before <= 1;
      });
      assertThat(view.lastSafe()).as("the last answer, still fresh enough to report").isTrue();

      // Read: from then on it is checked every second.
      assertThat(view.isSafe()).isTrue();
      long before = view.safetyProbes();
      await().atMost(Duration.ofSeconds(10)).until(() -> view.safetyProbes() - before >= 3);

      // A third member joins: unsafe right away, safe again once its backups are copied.
      List<Boolean> seen = new CopyOnWriteArrayList<>();
      nodes.get(0).hazelcast().getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
        @Override
        public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
          seen.add(view.isSafe());
        }

        @Override
        public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
        }
      });
      int port = TestNodes.freePort();
      var first = nodes.get(0).config();
      nodes.add(TestNodes.start(Map.of("TETHER_NODE_ID", first.clusterName() + "-2",
          "TETHER_CLUSTER_NAME", first.clusterName(), "TETHER_CLUSTER_PORT", Integer.toString(port),
          "TETHER_CLUSTER_MEMBERS", first.clusterMembers() + ",127.0.0.1:" + port)));
      await().atMost(Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
      assertThat(seen.get(0)).as("safe, as seen right after a member joined").isFalse();
      await().atMost(Duration.ofSeconds(120)).until(view::isSafe);
    } finally {
      nodes.forEach(TestNodes::stop);
    }
  }
}
