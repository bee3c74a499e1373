package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.cluster.owner.StreamOwner;
import io.tether.stream.AppendSpec;
import io.tether.stream.Outcome;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.support.Await;
import io.tether.support.Http.Resp;
import io.tether.support.Http;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Several members in one JVM: every node serves every stream through its owner, the owner sits on the
 * stream's partition, a second owner is fenced, and ownership follows partitions when a member joins.
 */
class ClusterIT {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private static final List<TetherNode> nodes = new ArrayList<>();
  private static final List<Http> clients = new ArrayList<>();
  private static String clusterName;
  private static int[] clusterPorts;

  @BeforeAll
  static void start() {
    clusterName = "cluster-it-" + UUID.randomUUID();
    clusterPorts = new int[] {TestNodes.freePort(), TestNodes.freePort(), TestNodes.freePort()};
    for (int i = 0; i < 2; i++) {
      startMember(i);
    }
    // Partitions spread over the members right after the second joins; start from a settled cluster.
    await().atMost(DEADLINE).until(() -> nodes.stream()
        .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
  }

  private static void startMember(int i) {
    StringBuilder members = new StringBuilder();
    for (int port : clusterPorts) {
      members.append(members.length() == 0 ? "" : ",").append("127.0.0.1:").append(port);
    }
    TetherNode node = TestNodes.start(Map.of(
        "TETHER_NODE_ID", "member-" + (i + 1),
        "TETHER_CLUSTER_NAME", clusterName,
        "TETHER_CLUSTER_PORT", Integer.toString(clusterPorts[i]),
        "TETHER_CLUSTER_MEMBERS", members.toString()));
    nodes.add(node);
    clients.add(new Http(node.httpPort()));
  }

  @AfterAll
  static void stop() {
    clients.forEach(Http::close);
    nodes.forEach(TestNodes::stop);
  }

  private static TetherNode node(String nodeId) {
    return nodes.stream().filter(n -> n.nodeId().equals(nodeId)).findFirst().orElseThrow();
  }

  private static JsonObject admin(String stream) {
    return clients.get(0).get("/v1/admin/streams/" + stream).json();
  }

  private static Resp produce(Http http, String path, long seq, String body) {
    return http.request(HttpMethod.POST, path, Map.of("Content-Type", "text/plain", "Producer-Id", "p",
        "Producer-Epoch", "0", "Producer-Seq", Long.toString(seq)), body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void everyNodeServesEveryStreamThroughItsPartitionOwner() {
    String stream = "routing-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(clients.get(0).put(path, "text/plain", null).status()).isEqualTo(201);
    for (int i = 0; i < 6; i++) {
      assertThat(produce(clients.get(i % clients.size()), path, i, i + ";").status()).isEqualTo(200);
    }
    for (Http http : clients) {
      assertThat(http.get(path).body()).isEqualTo("0;1;2;3;4;5;");
    }
    String owner = admin(stream).getJsonObject("owner").getString("nodeId");
    assertThat(owner).isEqualTo(nodes.get(0).services().cluster().ownerNodeOf(stream));
    assertThat(node(owner).services().owners().get(stream)).isNotNull();
    nodes.stream().filter(n -> !n.nodeId().equals(owner))
        .forEach(n -> assertThat(n.services().owners().get(stream)).isNull());
  }

  @Test
  void readersOnNonOwnerNodesFollowTheLiveTail() {
    String stream = "live-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    clients.get(0).put(path, "text/plain", "a;");
    String owner = admin(stream).getJsonObject("owner").getString("nodeId");
    Http elsewhere = clients.get(nodes.indexOf(nodes.stream().filter(n -> !n.nodeId().equals(owner)).findFirst().orElseThrow()));
    try (SseReader sse = elsewhere.sse(path + "?live=sse&offset=-1");
         WsReader ws = elsewhere.ws(path + "?live=ws&offset=-1")) {
      await().atMost(DEADLINE).until(() -> sse.lastControl() != null && !ws.frames("control").isEmpty());
      for (int i = 0; i < 10; i++) {
        clients.get(i % clients.size()).post(path, "text/plain", "e" + i + ";");
      }
      String expected = "a;e0;e1;e2;e3;e4;e5;e6;e7;e8;e9;";
      await().atMost(DEADLINE).until(() -> sse.data().equals(expected) && ws.text().equals(expected));
    }
  }

  @Test
  void everyMemberOfASettledClusterTrustsAWriteToBeReplicated() {
    // An owner can run on a member other than its partition's primary (a migration, a fenced intruder);
    // the member that holds the backup copy must not take itself for a missing backup.
    for (int i = 0; i < 20; i++) {
      String stream = "replicated-" + i + "-" + UUID.randomUUID();
      for (TetherNode node : nodes) {
        assertThat(node.services().cluster().writeStillReplicated(stream)).as("%s on %s", stream, node.nodeId())
            .isTrue();
      }
    }
  }

  @Test
  void aSecondOwnerFencesTheFirstAndNoAppendIsLostOrDoubled() {
    String stream = "fence-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    clients.get(0).put(path, "text/plain", null);
    produce(clients.get(0), path, 0, "0;");
    JsonObject before = admin(stream);
    String firstOwner = before.getJsonObject("owner").getString("nodeId");
    long firstEpoch = before.getLong("epoch");
    TetherNode intruder = nodes.stream().filter(n -> !n.nodeId().equals(firstOwner)).findFirst().orElseThrow();

    // The intruder believes it owns the stream too: it claims with the next epoch and registers.
    Await.result(intruder.vertx().deployVerticle(new StreamOwner(stream, false, intruder.services())));
    StreamReply stale = Await.result(intruder.services().store().execute(stream,
        new StreamProcessors.Append(new AppendSpec("zombie".getBytes(StandardCharsets.UTF_8), "text/plain", false, null,
            null), new io.tether.stream.Fence(firstEpoch, 1), System.currentTimeMillis(), 0), intruder.vertx().getOrCreateContext()));
    assertThat(stale.outcome()).isEqualTo(Outcome.STALE_OWNER);

    // Appends reach whichever registration the event bus picks. A fenced owner steps down and its
    // requests go to the partition's member, which starts a new owner with a newer epoch; the intruder
    // is then fenced in turn. Every append is applied exactly once throughout.
    for (int i = 1; i <= 10; i++) {
      Resp r = produce(clients.get(i % clients.size()), path, i, i + ";");
      assertThat(r.status()).as("append %d: %s %s", i, r.headers(), r.body()).isEqualTo(200);
    }
    assertThat(clients.get(1).get(path).body()).isEqualTo("0;1;2;3;4;5;6;7;8;9;10;");
    await().atMost(DEADLINE).until(() -> {
      clients.get(0).head(path);
      clients.get(1).head(path);
      return intruder.services().owners().get(stream) == null;
    });
    JsonObject after = admin(stream);
    assertThat(after.getJsonObject("owner").getString("nodeId")).isEqualTo(firstOwner);
    assertThat(after.getLong("epoch")).isGreaterThan(firstEpoch + 1);
    assertThat(clients.get(0).get(path).body()).isEqualTo("0;1;2;3;4;5;6;7;8;9;10;");
  }

  @Test
  void ownersFollowTheirPartitionsWhenAMemberJoins() {
    List<String> streams = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String stream = "rebalance-" + i + "-" + UUID.randomUUID();
      streams.add(stream);
      clients.get(i % 2).put("/v1/stream/" + stream, "text/plain", "x");
    }
    if (nodes.size() < 3) {
      startMember(2);
    }
    TetherNode joined = nodes.get(2);
    await().atMost(DEADLINE).until(() -> nodes.stream()
        .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
    // Streams whose partition moved to the new member are served there after one request.
    for (String stream : streams) {
      assertThat(clients.get(2).post("/v1/stream/" + stream, "text/plain", "y").status()).isEqualTo(204);
      assertThat(clients.get(0).get("/v1/stream/" + stream).body()).isEqualTo("xy");
    }
    for (String stream : streams) {
      String owner = admin(stream).getJsonObject("owner").getString("nodeId");
      assertThat(owner).as(stream).isEqualTo(joined.services().cluster().ownerNodeOf(stream));
    }
    assertThat(streams.stream().filter(s -> joined.nodeId().equals(joined.services().cluster().ownerNodeOf(s))))
        .isNotEmpty();
  }
}
