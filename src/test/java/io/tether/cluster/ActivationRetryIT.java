package io.tether.cluster;

import io.tether.TetherNode;
import io.tether.cluster.routing.Addresses;
import io.tether.stream.CreateSpec;
import io.tether.stream.Outcome;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.tether.support.Http.Resp;
import io.tether.support.Http;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A plain append (no producer headers, so it cannot be deduplicated) that reaches a stream while its
 * owner is being activated, and whose activation takes longer than a request may wait: the node that
 * activates the owner hands the append over once the owner is up, so the router must not send it again.
 * The client is told 503 {@code outcome_unknown}; the stream holds the append once.
 */
class ActivationRetryIT {

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    // One partition thread per partition: holding the stream's partition thread below must hold nothing
    // else (by default two threads serve all 271 partitions, the event bus's own look-ups among them).
    System.setProperty(THREADS, "271");
    node = TestNodes.start(Map.of("TETHER_REQUEST_TIMEOUT_MS", "200", "TETHER_ROUTE_DEADLINE_MS", "3000"));
    http = new Http(node.httpPort());
  }

  private static final String THREADS = "hazelcast.operation.thread.count";

  @AfterAll
  static void stop() {
    System.clearProperty(THREADS);
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  private static int partition(String key) {
    return node.hazelcast().getPartitionService().getPartition(key).getPartitionId();
  }

  @Test
  void anAppendWhoseOwnerActivationTimesOutIsAnsweredOutcomeUnknownAndStoredOnce() throws Exception {
    // A stream whose partition is not that of its own event-bus address or of the node's control address.
    String name;
    do {
      name = "activation-" + UUID.randomUUID();
    } while (partition(name) == partition(Addresses.stream(name))
        || partition(name) == partition(Addresses.control(node.nodeId())));
    String path = "/v1/stream/" + name;
    // A stream that exists in the cluster's map and has no owner anywhere (as after its owner's node
    // died): the next request activates one, whose claim waits behind an operation that holds the
    // stream's partition thread.
    StreamReply created = io.tether.support.Await.result(node.services().store().execute(name,
        new StreamProcessors.Create(new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null),
            List.of(), null, -1, node.config().ringLimits(), 42, new io.tether.stream.Fence(0, 7), "a-node-that-died", System.currentTimeMillis(), false),
        node.vertx().getOrCreateContext()));
    assertThat(created.outcome()).isEqualTo(Outcome.CREATED);
    assertThat(node.services().owners().get(name)).isNull();
    CountDownLatch release = new CountDownLatch(1);
    com.hazelcast.map.IMap<String, Object> streams = node.hazelcast().getMap("tether.streams");
    var blocker = streams.submitToKey(name, entry -> {
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return null;
    });
    Resp answer;
    try {
      answer = http.post(path, "text/plain", "once");
    } finally {
      release.countDown();
    }
    blocker.toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(answer.status()).as(answer.body()).isEqualTo(503);
    assertThat(answer.errorCode()).isEqualTo("outcome_unknown");
    // The activation completes and the append it carried is applied, once.
    await().atMost(Duration.ofSeconds(10)).until(() -> http.get(path + "?offset=-1").body().contains("once"));
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
        .until(() -> http.get(path + "?offset=-1").body().equals("once"));
  }
}
