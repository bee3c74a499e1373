package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.cluster.routing.Activate;
import io.tether.cluster.routing.Addresses;
import io.tether.cluster.routing.Expiry;
import io.tether.cluster.routing.StreamRequest;
import io.tether.cluster.routing.StreamRouter;
import io.tether.stream.AppendSpec;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * A request that reaches a stream's owner long after its sender stopped waiting (it sat in a TCP buffer
 * through a network partition and arrived when the partition healed) is dropped, not applied: its writer
 * was told the outcome is unknown, may have sent it again, and readers have moved past the place where it
 * would land. The same request on time is applied.
 */
class ExpiredRequestIT {

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of());
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  private static Object send(String stream, String text, long expiresAt, String address) throws Exception {
    StreamRequest request = new StreamRequest.Append(
        new AppendSpec(text.getBytes(StandardCharsets.UTF_8), "text/plain", false, null, null));
    Object message = address.startsWith("tether.node.") ? new Activate(stream, request) : request;
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(5_000)
        .addHeader(Expiry.HEADER, Long.toString(expiresAt));
    return node.vertx().eventBus().request(address, message, options)
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).body();
  }

  @Test
  void anAppendThatArrivesAfterItsSenderGaveUpIsNotApplied() throws Exception {
    String stream = "expiry-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http.put(path, "text/plain", null).status()).isEqualTo(201);
    long longAgo = System.currentTimeMillis() - 30_000;

    Throwable late = catchThrowable(() -> send(stream, "late;", longAgo, Addresses.stream(stream)));
    assertThat(late).hasCauseInstanceOf(ReplyException.class);
    assertThat(((ReplyException) late.getCause()).failureCode()).isEqualTo(StreamRouter.OUTCOME_UNKNOWN_CODE);

    Throwable lateActivation = catchThrowable(() -> send(stream, "late-activation;", longAgo, Addresses.control(node.nodeId())));
    assertThat(lateActivation).hasCauseInstanceOf(ReplyException.class);

    assertThat(send(stream, "on-time;", System.currentTimeMillis() + 5_000, Addresses.stream(stream))).isNotNull();
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo("on-time;");
  }

  @Test
  void aRequestWithinTheClockMarginIsApplied() throws Exception {
    String stream = "expiry-" + UUID.randomUUID();
    String path = "/v1/stream/" + stream;
    assertThat(http.put(path, "text/plain", null).status()).isEqualTo(201);
    // Expired by the sender's clock a moment ago: members' clocks differ by that much, so it still counts.
    send(stream, "just-in-time;", System.currentTimeMillis() - Expiry.CLOCK_SKEW_MILLIS / 2, Addresses.stream(stream));
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo("just-in-time;");
  }
}
