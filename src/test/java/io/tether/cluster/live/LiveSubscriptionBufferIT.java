package io.tether.cluster.live;


import io.tether.TetherNode;
import io.tether.stream.Offset;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.tether.support.TestNodes;
import io.vertx.core.Context;
import io.vertx.core.Promise;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.tether.support.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a subscription holds while its (re)subscription is in flight: pushes that arrive meanwhile are
 * kept in order up to {@code TETHER_MAX_READ_BYTES} of payload; past that it keeps none and reads them
 * from the ring once the subscription answers.
 */
class LiveSubscriptionBufferIT {

  private static final int LIMIT = 256 * 1024;
  private static TetherNode node;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_MAX_READ_BYTES", Integer.toString(LIMIT)));
  }

  @AfterAll
  static void stop() {
    TestNodes.stop(node);
  }

  private static final LiveSubscription.Listener IGNORING = new LiveSubscription.Listener() {
    @Override
    public void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed) {
    }

    @Override
    public void onEnd(StreamReply reply, Throwable error) {
    }

    @Override
    public void onNodeShutdown() {
    }
  };

  private static long buffered(Context context, LiveSubscription subscription) {
    Promise<Long> bytes = Promise.promise();
    context.runOnContext(v -> bytes.complete(subscription.bufferedBytes()));
    return result(bytes.future());
  }

  @Test
  void pushesHeldDuringASubscriptionAreBoundedByBytes() {
    Context context = node.vertx().getOrCreateContext();
    Promise<LiveSubscription> created = Promise.promise();
    context.runOnContext(v -> created.complete(
        new LiveSubscription(node.services(), "buffer-test", ReadStart.BEGINNING, IGNORING)));
    LiveSubscription subscription = result(created.future());
    // Not started: it stays in its catching-up state, where pushes are held.
    byte[] event = new byte[100 * 1024];
    subscription.onPush(new LivePush("buffer-test", 0, new long[] {subscription.id()}, 1, new Offset(0, 0), List.of(event),
        false, LivePush.SIGNAL_NONE));
    subscription.onPush(new LivePush("buffer-test", 0, new long[] {subscription.id()}, 1, new Offset(1, event.length),
        List.of(event), false, LivePush.SIGNAL_NONE));
    assertThat(buffered(context, subscription)).isEqualTo(2L * event.length);
    // A third would pass the limit: nothing is held any more (the replay will read them).
    subscription.onPush(new LivePush("buffer-test", 0, new long[] {subscription.id()}, 1, new Offset(2, 2L * event.length),
        List.of(event), false, LivePush.SIGNAL_NONE));
    assertThat(buffered(context, subscription)).isZero();
    for (int i = 3; i < 50; i++) {
      subscription.onPush(new LivePush("buffer-test", 0, new long[] {subscription.id()}, 1, new Offset(i, (long) i * event.length),
          List.of(event), false, LivePush.SIGNAL_NONE));
    }
    assertThat(buffered(context, subscription)).isZero();
  }
}
