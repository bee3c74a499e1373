package io.tether.cluster;

import io.tether.cluster.owner.CommandReply;
import io.tether.cluster.routing.Addresses;
import io.tether.cluster.routing.StreamRequest;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tether.TetherNode;
import io.tether.config.TetherConfig;
import io.tether.support.Http.Resp;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.tether.wire.EventBusWireCodec;
import io.tether.wire.WireMessage;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The cluster plane. A process that reaches the member port can join Hazelcast with the cluster name
 * alone (Hazelcast's community edition authenticates no member); what stops it from talking to streams
 * is the event bus: with a cluster certificate, every event-bus connection is TLS with client
 * authentication, so a joined process without the certificate can send nothing to a session's address.
 * The same attack against a cluster without the certificate succeeds, which is what this test first
 * shows.
 */
class ClusterTlsIT {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final String API_KEY = "tls-it-key";

  /** Two members of one cluster, optionally with the cluster certificate. */
  private static List<TetherNode> cluster(String name, Map<String, String> tls) {
    int[] ports = {TestNodes.freePort(), TestNodes.freePort(), TestNodes.freePort()};
    String members = "127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1] + ",127.0.0.1:" + ports[2];
    List<TetherNode> nodes = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Map<String, String> settings = new HashMap<>(tls);
      settings.put("TETHER_NODE_ID", name + "-" + (i + 1));
      settings.put("TETHER_CLUSTER_NAME", name);
      settings.put("TETHER_CLUSTER_PORT", Integer.toString(ports[i]));
      settings.put("TETHER_CLUSTER_MEMBERS", members);
      settings.put("TETHER_API_KEY", API_KEY);
      settings.put("TETHER_TOKEN_SECRET", "a-secret-for-the-cluster-tls-test-32-ch");
      nodes.add(TestNodes.start(settings));
    }
    await().atMost(DEADLINE).until(() -> nodes.stream().allMatch(n -> n.hazelcast().getCluster().getMembers().size() == 2));
    return nodes;
  }

  /** A process that knows the cluster name and member list, has no certificate, and joins as a lite member. */
  private static final class Rogue implements AutoCloseable {
    final HazelcastInstance hazelcast;
    final Vertx vertx;

    Rogue(TetherNode victim) throws Exception {
      TetherConfig config = victim.config().with(Map.of("TETHER_NODE_ID", "rogue-" + UUID.randomUUID(),
          "TETHER_CLUSTER_PORT", Integer.toString(TestNodes.freePort()),
          "TETHER_CLUSTER_TLS_CERT", "", "TETHER_CLUSTER_TLS_KEY", "", "TETHER_CLUSTER_TLS_CA", ""));
      Config hz = TetherNode.hazelcastConfig(config);
      hz.setLiteMember(true); // owns no partition, so the victims' streams stay where they are
      hazelcast = Hazelcast.newHazelcastInstance(hz);
      vertx = Vertx.builder()
          .with(new VertxOptions().setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setPort(TestNodes.freePort())))
          .withClusterManager(new HazelcastClusterManager(hazelcast))
          .buildClustered()
          .await(60, TimeUnit.SECONDS);
      vertx.eventBus().registerCodec(new EventBusWireCodec());
      vertx.eventBus().codecSelector(body -> body instanceof WireMessage ? EventBusWireCodec.NAME : null);
    }

    /** Asks a session's owner for its snapshot, straight on the event bus; the answer or the failure. */
    String snapshotOf(String sessionId) {
      String command = new JsonObject().put("type", "snapshot").encode();
      try {
        WireMessage answer = vertx.eventBus().<WireMessage>request(Addresses.stream("sessions/" + sessionId),
                new StreamRequest.Command(command, true), new DeliveryOptions().setSendTimeout(5_000))
            .await(10, TimeUnit.SECONDS).body();
        return answer instanceof CommandReply reply ? reply.json() : String.valueOf(answer);
      } catch (Exception e) {
        return "failed: " + e.getMessage();
      }
    }

    @Override
    public void close() {
      vertx.close();
      hazelcast.getLifecycleService().terminate();
    }
  }

  private static String sessionWithSecret(Http http) {
    Resp created = http.request(io.vertx.core.http.HttpMethod.POST, "/v1/sessions", Map.of("Authorization", "Bearer " + API_KEY),
        new byte[0]);
    String id = created.json().getString("sessionId");
    Resp sent = http.request(io.vertx.core.http.HttpMethod.POST, "/v1/sessions/" + id + "/messages",
        Map.of("Authorization", "Bearer " + created.json().getString("token")),
        "{\"text\":\"the launch code is 0000\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(sent.status()).isEqualTo(200);
    return id;
  }

  @Test
  void withoutTheCertificateAJoinedProcessReadsAnySession() throws Exception {
    List<TetherNode> nodes = cluster("plain-" + UUID.randomUUID(), Map.of());
    try (Http http = new Http(nodes.get(0).httpPort()); Rogue rogue = new Rogue(nodes.get(0))) {
      String id = sessionWithSecret(http);
      assertThat(rogue.snapshotOf(id)).contains("the launch code is 0000");
    } finally {
      nodes.forEach(TestNodes::stop);
    }
  }

  @Test
  void withTheCertificateMembersTalkAndAJoinedProcessWithoutItCannot() throws Exception {
    SelfSignedCertificate certificate = SelfSignedCertificate.create("tether-cluster");
    List<TetherNode> nodes = cluster("tls-" + UUID.randomUUID(), Map.of(
        "TETHER_CLUSTER_TLS_CERT", certificate.certificatePath(),
        "TETHER_CLUSTER_TLS_KEY", certificate.privateKeyPath()));
    try (Http first = new Http(nodes.get(0).httpPort()); Http second = new Http(nodes.get(1).httpPort());
         Rogue rogue = new Rogue(nodes.get(0))) {
      // Members reach each other's owners: streams created on one node are written and read on the other.
      for (int i = 0; i < 8; i++) {
        String path = "/v1/stream/tls-" + i + "-" + UUID.randomUUID();
        assertThat(first.request(io.vertx.core.http.HttpMethod.PUT, path, Map.of("Content-Type", "text/plain"), null)
            .status()).isEqualTo(201);
        assertThat(second.request(io.vertx.core.http.HttpMethod.POST, path, Map.of("Content-Type", "text/plain"),
            "over tls".getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(204);
        assertThat(first.get(path + "?offset=-1").body()).isEqualTo("over tls");
      }
      String id = sessionWithSecret(first);
      String answer = rogue.snapshotOf(id);
      assertThat(answer).startsWith("failed").doesNotContain("launch code");
    } finally {
      nodes.forEach(TestNodes::stop);
      certificate.delete();
    }
  }
}
