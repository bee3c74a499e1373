package io.tether.cluster.routing;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A request whose stream's owner runs on the node that received it reaches the owner without the event
 * bus (none of it goes out on the stream's address), and is answered as before; once that owner has
 * passivated, the next request finds it gone and activates a new one the usual way.
 */
class LocalDeliveryIT {

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_OWNER_IDLE_SECONDS", "3"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    http.close();
    TestNodes.stop(node);
  }

  @Test
  void requestsToAnOwnerOnThisNodeSkipTheEventBus() {
    String name = "local-" + UUID.randomUUID();
    String path = "/v1/stream/" + name;
    assertThat(http.put(path, "text/plain", "").status()).isEqualTo(201);
    await().atMost(Duration.ofSeconds(10)).until(() -> node.services().owners().get(name) != null);
    // (The create itself went to the node's control address, which relayed it on the stream's address
    // to the owner it started: that is the activation path, not counted here.)
    AtomicInteger onTheBus = new AtomicInteger();
    node.vertx().eventBus().addOutboundInterceptor(ctx -> {
      if (Addresses.stream(name).equals(ctx.message().address())) {
        onTheBus.incrementAndGet();
      }
      ctx.next();
    });

    for (int i = 0; i < 20; i++) {
      assertThat(http.post(path, "text/plain", "m" + i + ";").status()).isEqualTo(204);
    }
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      expected.append("m").append(i).append(';');
    }
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo(expected.toString());
    assertThat(onTheBus.get()).as("requests sent on the stream's event-bus address").isZero();

    // The owner passivates; the next append activates a new one and lands after the others.
    await().atMost(Duration.ofSeconds(30)).until(() -> node.services().owners().get(name) == null);
    assertThat(http.post(path, "text/plain", "after;").status()).isEqualTo(204);
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo(expected + "after;");
  }
}
