package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.cluster.routing.Addresses;
import io.tether.support.Http.Resp;
import io.tether.support.Http;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.vertx.core.Promise;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.RegistrationInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Idle owners passivate: after {@code TETHER_OWNER_IDLE_SECONDS} without a request, a live reader or work
 * in progress, a stream's owner retires and leaves no event-bus registration on any node; the stream
 * stays in the map, and its next request, from any node, activates a new owner with a higher epoch that
 * carries on at the right offset.
 */
class PassivationIT {

  private static final List<TetherNode> nodes = new ArrayList<>();
  private static final List<Http> http = new ArrayList<>();

  @BeforeAll
  static void start() {
    nodes.addAll(TestNodes.cluster("passivation", 3, Map.of("TETHER_OWNER_IDLE_SECONDS", "1",
        "TETHER_HEARTBEAT_SECONDS", "1")));
    nodes.forEach(n -> http.add(new Http(n.httpPort())));
  }

  @AfterAll
  static void stop() {
    http.forEach(Http::close);
    nodes.forEach(TestNodes::stop);
  }

  private static int activeOwners() {
    return nodes.stream().mapToInt(n -> n.services().owners().size()).sum();
  }

  private static boolean owned(String stream) {
    return nodes.stream().anyMatch(n -> n.services().owners().get(stream) != null);
  }

  /** The stream address's registrations as the cluster manager of {@code node} lists them. */
  private static List<RegistrationInfo> registrations(TetherNode node, String stream) throws Exception {
    Promise<List<RegistrationInfo>> promise = Promise.promise();
    ((VertxInternal) node.vertx()).clusterManager().getRegistrations(Addresses.stream(stream), promise);
    return promise.future().await(10, TimeUnit.SECONDS);
  }

  /**
   * Stream addresses in the node selector's cache of the node's clustered event bus (Vert.x keeps one
   * entry per address it has sent to while that address has registrations). Read by reflection: no API
   * exposes it, and it is what a node that only routed would otherwise keep per stream.
   */
  private static long routedStreamAddresses(TetherNode node) {
    try {
      Object bus = node.vertx().eventBus();
      java.lang.reflect.Field selectorField = bus.getClass().getDeclaredField("nodeSelector");
      selectorField.setAccessible(true);
      Object selector = selectorField.get(bus);
      java.lang.reflect.Field entriesField = selector.getClass().getDeclaredField("entries");
      entriesField.setAccessible(true);
      Map<?, ?> entries = (Map<?, ?>) entriesField.get(selector);
      return entries.keySet().stream().filter(k -> k.toString().startsWith(Addresses.stream(""))).count();
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("the Vert.x event bus changed shape: " + e, e);
    }
  }

  private static long epoch(String stream) {
    Resp admin = http.get(0).get("/v1/admin/streams/" + stream);
    assertThat(admin.status()).as(admin.body()).isEqualTo(200);
    return admin.json().getLong("epoch");
  }

  @Test
  void anIdleStreamPassivatesAndResumesFromAnyNodeAtTheRightOffset() throws Exception {
    String stream = "passive-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http.get(0).put(path, "text/plain", "a").status()).isEqualTo(201);
    assertThat(http.get(1).post(path, "text/plain", "b").status()).isEqualTo(204);
    long before = epoch(stream);
    String tail = http.get(2).get(path + "?offset=-1").header("Stream-Next-Offset");

    await().atMost(Duration.ofSeconds(20)).until(() -> !owned(stream));
    // A passivated owner still answers (handing requests on) for a few seconds, then unregisters.
    await().atMost(Duration.ofSeconds(20)).until(() -> {
      for (TetherNode node : nodes) {
        if (!registrations(node, stream).isEmpty()) {
          return false;
        }
      }
      return true;
    });

    for (int via = 0; via < 3; via++) {
      Resp read = http.get(via).get(path + "?offset=-1");
      assertThat(read.status()).isEqualTo(200);
      assertThat(read.body()).isEqualTo("ab");
      assertThat(read.header("Stream-Next-Offset")).isEqualTo(tail);
    }
    assertThat(http.get(2).post(path, "text/plain", "c").status()).isEqualTo(204);
    assertThat(http.get(0).get(path + "?offset=" + tail).body()).isEqualTo("c");
    assertThat(epoch(stream)).as("the next owner claimed the stream with a higher epoch").isGreaterThan(before);
  }

  @Test
  void aLiveReaderKeepsItsOwnerUpAndReadsOnAfterAPassivation() throws Exception {
    String stream = "watched-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http.get(0).put(path, "text/plain", "0").status()).isEqualTo(201);
    try (SseReader sse = http.get(1).sse(path + "?offset=-1&live=sse")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> sse.data().equals("0"));
      // Well past the idle time with nothing but the reader: the owner stays, and so does its registration.
      await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6)).until(() -> owned(stream));
      assertThat(http.get(2).post(path, "text/plain", "1").status()).isEqualTo(204);
      await().atMost(Duration.ofSeconds(10)).until(() -> sse.data().equals("01"));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> !owned(stream));
    try (SseReader sse = http.get(2).sse(path + "?offset=-1&live=sse")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> sse.data().equals("01"));
      assertThat(http.get(0).post(path, "text/plain", "2").status()).isEqualTo(204);
      await().atMost(Duration.ofSeconds(10)).until(() -> sse.data().equals("012"));
    }
  }

  @Test
  void nodesThatOnlyRoutedKeepNoOwnerAfterManyStreamsGoIdle() {
    List<String> streams = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      String path = "/v1/stream/many-" + i + "-" + UUID.randomUUID();
      streams.add(path);
      assertThat(http.get(i % 3).put(path, "text/plain", "x" + i).status()).isEqualTo(201);
      assertThat(http.get((i + 1) % 3).get(path + "?offset=-1").status()).isEqualTo(200);
    }
    assertThat(nodes.stream().mapToLong(PassivationIT::routedStreamAddresses).sum())
        .as("routing entries while the owners are up").isPositive();
    await().atMost(Duration.ofSeconds(30)).until(() -> activeOwners() == 0);
    // Once the addresses are unregistered, no node keeps a routing entry for any of them.
    await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream().allMatch(n -> routedStreamAddresses(n) == 0));
    for (TetherNode node : nodes) {
      assertThat(node.services().owners().size()).isZero();
      assertThat(node.services().metrics().registry().get("tether.stream.owners").gauge().value()).isZero();
      assertThat(node.services().metrics().registry().get("tether.owner.passivations").counter().count()).isPositive();
    }
    for (int i = 0; i < streams.size(); i += 20) {
      assertThat(http.get(i % 3).get(streams.get(i) + "?offset=-1").body()).isEqualTo("x" + i);
    }
  }
}
