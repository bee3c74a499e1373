package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.cluster.live.LivePush;
import io.tether.cluster.live.LiveSubscription;
import io.tether.cluster.routing.Addresses;
import io.tether.cluster.routing.StreamRequest;
import io.tether.stream.Offset;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import io.vertx.core.Context;
import io.vertx.core.Promise;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.tether.support.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A push reaches a subscription only if it is for that subscription's stream and for the incarnation of
 * the stream the subscription reads: subscription ids are per node, and an owner can push late, to an id
 * that now belongs to another subscription, or from a stream that was deleted and created again.
 */
class LivePushCheckIT {

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

  @Test
  void pushesForAnotherStreamOrIncarnationAreIgnored() {
    String name = "push-check-" + UUID.randomUUID();
    assertThat(http.put("/v1/stream/" + name, "text/plain", "first").status()).isEqualTo(201);
    long incarnation = result(node.services().router().request(name, new StreamRequest.Read(ReadStart.NOW, 0, false)))
        .incarnation();
    List<String> delivered = new CopyOnWriteArrayList<>();
    Context context = node.vertx().getOrCreateContext();
    Promise<LiveSubscription> created = Promise.promise();
    context.runOnContext(v -> {
      LiveSubscription subscription = new LiveSubscription(node.services(), name, ReadStart.BEGINNING,
          new LiveSubscription.Listener() {
            @Override
            public void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed) {
              events.forEach(e -> delivered.add(new String(e, StandardCharsets.UTF_8)));
            }

            @Override
            public void onEnd(StreamReply reply, Throwable error) {
            }

            @Override
            public void onNodeShutdown() {
            }
          });
      subscription.start();
      created.complete(subscription);
    });
    LiveSubscription subscription = result(created.future());
    await().atMost(Duration.ofSeconds(10)).until(() -> delivered.contains("first") && subscription.isLive());
    Offset at = subscription.position();
    long[] ids = {subscription.id()};

    send(new LivePush("another-stream", incarnation, ids, Long.MAX_VALUE / 2, at, List.of(bytes("foreign")), false,
        LivePush.SIGNAL_NONE));
    send(new LivePush(name, incarnation + 1, ids, Long.MAX_VALUE / 2, at, List.of(bytes("old incarnation")), false,
        LivePush.SIGNAL_NONE));
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> delivered.size() == 1);
    // The same push for its own stream and incarnation is delivered: the two above were refused for that.
    send(new LivePush(name, incarnation, ids, Long.MAX_VALUE / 2, at, List.of(bytes("own")), false, LivePush.SIGNAL_NONE));
    await().atMost(Duration.ofSeconds(5)).until(() -> delivered.contains("own"));
    assertThat(delivered).containsExactly("first", "own");
    context.runOnContext(v -> subscription.close());
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static void send(LivePush push) {
    node.vertx().eventBus().send(Addresses.live(node.nodeId()), push);
  }
}
