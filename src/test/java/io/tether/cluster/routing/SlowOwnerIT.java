package io.tether.cluster.routing;

import io.tether.TetherNode;
import io.tether.stream.CreateSpec;
import io.tether.stream.Fence;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.tether.support.Await;
import io.tether.support.TestNodes;
import io.tether.wire.WireMessage;
import io.vertx.core.eventbus.MessageConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An owner that answers after the request timeout (a cold node that just took its partitions back, a
 * saturated one): while its member is alive the router waits for the first copy's answer instead of
 * sending a second copy to queue behind it; a copy that is lost on the way is sent again as a last chance
 * before the route deadline.
 */
@SuppressWarnings("unchecked")
// The member-left tests come last: a member leaving makes the router go through the partition's node for
// a few seconds, which the other tests must not meet.
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SlowOwnerIT {

  private static final String THREADS = "hazelcast.operation.thread.count";
  private static TetherNode node;

  @BeforeAll
  static void start() {
    // One partition thread per partition, so that holding the stream's holds nothing else.
    System.setProperty(THREADS, "271");
    node = TestNodes.start(Map.of("TETHER_REQUEST_TIMEOUT_MS", "200", "TETHER_ROUTE_DEADLINE_MS", "8000"));
  }

  @AfterAll
  static void stop() {
    System.clearProperty(THREADS);
    TestNodes.stop(node);
  }

  private static double routeTimeouts() {
    return node.services().metrics().registry().get("tether.route.timeouts").counter().count();
  }

  private static int partition(String key) {
    return node.hazelcast().getPartitionService().getPartition(key).getPartitionId();
  }

  @Test
  @Order(1)
  void aLateAnswerOfTheFirstAttemptIsTakenInsteadOfWaitingForTheResend() throws Exception {
    String name;
    do {
      name = "slow-" + UUID.randomUUID();
    } while (partition(name) == partition(Addresses.stream(name))
        || partition(name) == partition(Addresses.control(node.nodeId())));
    // The stream exists and has no owner: the resend through the partition's node activates one, whose
    // claim waits behind an operation holding the stream's partition thread for 5 s.
    create(name);
    // Meanwhile a slow handler on the stream's address takes the first attempt and answers after 600 ms.
    // (The resend reaches it too, relayed by the node that activates the owner: each copy is answered
    // with its number.)
    AtomicInteger received = new AtomicInteger();
    MessageConsumer<WireMessage> slow = node.vertx().eventBus().consumer(Addresses.stream(name), message -> {
      int copy = received.incrementAndGet();
      node.vertx().setTimer(600, t -> message.reply(StreamReply.of(Outcome.OK).detail("copy " + copy).build()));
    });
    Await.result(slow.completion());
    CountDownLatch release = new CountDownLatch(1);
    com.hazelcast.map.IMap<String, Object> streams = node.hazelcast().getMap("tether.streams");
    var blocker = streams.submitToKey(name, entry -> {
      try {
        release.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return null;
    });
    double timeoutsBefore = routeTimeouts();
    try {
      long t0 = System.nanoTime();
      StreamReply answer = Await.result(node.services().router().request(name,
          new StreamRequest.Read(ReadStart.BEGINNING, 1 << 20, false)));
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

      assertThat(answer.detail()).as("answered after %d ms", tookMillis).isEqualTo("copy 1");
      assertThat(received).as("a live owner that is only slow is not sent a second copy to queue behind the first")
          .hasValue(1);
      assertThat(routeTimeouts() - timeoutsBefore).as("tether_route_timeouts_total counts the attempt that timed out")
          .isGreaterThanOrEqualTo(1);
    } finally {
      release.countDown();
      blocker.toCompletableFuture().get(10, TimeUnit.SECONDS);
      Await.result(slow.unregister());
    }
  }

  @Test
  @Order(3)
  void anotherMemberLeavingDoesNotResendARequestWaitingForALiveOwner() throws Exception {
    String name = "other-left-" + UUID.randomUUID();
    AtomicInteger received = new AtomicInteger();
    MessageConsumer<WireMessage> slow = node.vertx().eventBus().consumer(Addresses.stream(name), message -> {
      int copy = received.incrementAndGet();
      node.vertx().setTimer(600, t -> message.reply(StreamReply.of(Outcome.OK).detail("copy " + copy).build()));
    });
    Await.result(slow.completion());
    try {
      var answer = node.services().router().request(name, new StreamRequest.Read(ReadStart.BEGINNING, 1 << 20, false));
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> received.get() == 1);
      // A member this request never went to leaves while its owner (alive, on this node) works on it.
      node.services().router().memberLeft("a-member-that-held-other-streams");

      assertThat(Await.result(answer).detail()).isEqualTo("copy 1");
      assertThat(received).as("the request was not sent a second time").hasValue(1);
    } finally {
      Await.result(slow.unregister());
    }
  }

  @Test
  @Order(4)
  void theMemberARequestWentToLeavingResendsItAtOnce() throws Exception {
    String name = "left-" + UUID.randomUUID();
    create(name);
    AtomicInteger swallowed = new AtomicInteger();
    MessageConsumer<WireMessage>[] holder = new MessageConsumer[1];
    holder[0] = node.vertx().eventBus().consumer(Addresses.stream(name), message -> {
      swallowed.incrementAndGet();
      holder[0].unregister();
    });
    Await.result(holder[0].completion());
    long t0 = System.nanoTime();
    var answer = node.services().router().request(name, new StreamRequest.Read(ReadStart.BEGINNING, 1 << 20, false));
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> swallowed.get() == 1);
    // The stream's partition is on this node, so that is where the swallowed copy was sent.
    node.services().router().memberLeft(node.nodeId());

    assertThat(Await.result(answer).outcome()).isEqualTo(Outcome.OK);
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
        .as("resent when its member left, not at the last chance 7.8 s after it was sent").isLessThan(5_000);
  }

  private static void create(String name) {
    StreamReply created = Await.result(node.services().store().execute(name,
        new StreamProcessors.Create(new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null),
            List.of(), null, -1, node.config().ringLimits(), 42, new Fence(0, 7), "a-node-that-died",
            System.currentTimeMillis(), false),
        node.vertx().getOrCreateContext()));
    assertThat(created.outcome()).isEqualTo(Outcome.CREATED);
  }

  @Test
  @Order(2)
  void aRequestLostOnTheWayToALiveMemberIsSentAgainBeforeTheDeadline() throws Exception {
    String name = "lost-" + UUID.randomUUID();
    create(name);
    // A consumer on the stream's address swallows the first copy and goes away, as a message does that a
    // connection loses: nothing will ever answer it.
    AtomicInteger swallowed = new AtomicInteger();
    MessageConsumer<WireMessage>[] holder = new MessageConsumer[1];
    holder[0] = node.vertx().eventBus().consumer(Addresses.stream(name), message -> {
      swallowed.incrementAndGet();
      holder[0].unregister();
    });
    Await.result(holder[0].completion());
    double timeoutsBefore = routeTimeouts();

    StreamReply answer = Await.result(node.services().router().request(name,
        new StreamRequest.Read(ReadStart.BEGINNING, 1 << 20, false)));

    assertThat(swallowed).hasValue(1);
    assertThat(answer.outcome()).as("the last-chance copy reaches an owner the partition's node starts")
        .isEqualTo(Outcome.OK);
    assertThat(routeTimeouts() - timeoutsBefore).isGreaterThanOrEqualTo(1);
  }
}
