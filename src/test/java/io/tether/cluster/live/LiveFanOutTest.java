package io.tether.cluster.live;


import io.tether.stream.Offset;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The owner's live fan-out as a contract: only contiguous, acknowledged events are pushed and become
 * visible, each once, in order, to every subscription from its own position.
 */
class LiveFanOutTest {

  private record Push(String node, List<Long> subscriptions, long start, List<String> events, boolean closes, int signal) {
  }

  private final List<Push> pushes = new ArrayList<>();
  private final LiveFanOut live = new LiveFanOut((node, ids, start, events, closes, signal) -> pushes.add(new Push(node,
      Arrays.stream(ids).boxed().toList(), start.index(),
      events.stream().map(e -> new String(e, StandardCharsets.UTF_8)).toList(), closes, signal)));

  /** Event {@code i} of one-byte events: byte offset equals index. */
  private static Offset at(long i) {
    return new Offset(i, i);
  }

  private static byte[] event(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private LiveFanOut.Sub active(String node, long id, long next) {
    LiveFanOut.Sub sub = live.subscribe(node, id, 0);
    live.activate(sub, next);
    return sub;
  }

  @Test
  void inOrderCompletionsArePushedOnceEachAndMoveTheWatermark() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(0), event("a"), false);
    live.appended(at(1), event("b"), false);

    assertThat(pushes).containsExactly(
        new Push("n1", List.of(1L), 0, List.of("a"), false, LivePush.SIGNAL_NONE),
        new Push("n1", List.of(1L), 1, List.of("b"), false, LivePush.SIGNAL_NONE));
    assertThat(live.watermark()).isEqualTo(2);
    assertThat(live.visibleLimit()).isEqualTo(2);
  }

  @Test
  void aCompletionAheadOfAHoleWaitsAndIsInvisibleUntilTheHoleFills() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(1), event("b"), false);

    assertThat(pushes).isEmpty();
    assertThat(live.watermark()).as("b is acknowledged, but a, before it, is not yet").isZero();
    assertThat(live.hasGap()).isTrue();

    live.appended(at(0), event("a"), false);
    assertThat(pushes).containsExactly(new Push("n1", List.of(1L), 0, List.of("a", "b"), false, LivePush.SIGNAL_NONE));
    assertThat(live.watermark()).isEqualTo(2);
    assertThat(live.hasGap()).isFalse();
  }

  @Test
  void aReReadFillsAHoleLeftByAFailedWriteAndDropsWhatItCovers() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(2), event("c"), false);
    // The write of a (index 0) failed, b (1) completed nowhere: a re-read finds both on the backup.
    live.resynced(at(0), List.of(event("a"), event("b")), at(2), false);

    assertThat(pushes).containsExactly(
        new Push("n1", List.of(1L), 0, List.of("a", "b"), false, LivePush.SIGNAL_NONE),
        new Push("n1", List.of(1L), 2, List.of("c"), false, LivePush.SIGNAL_NONE));
    assertThat(live.watermark()).isEqualTo(3);
    assertThat(live.hasGap()).isFalse();
  }

  @Test
  void aReReadThatNoLongerStartsAtTheWatermarkPushesNothingTwice() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(0), event("a"), false);
    pushes.clear();
    live.resynced(at(0), List.of(event("a")), at(1), false);

    assertThat(pushes).isEmpty();
    assertThat(live.watermark()).isEqualTo(1);
  }

  @Test
  void subscriptionsAtDifferentPositionsEachGetWhatTheyLackGroupedByNode() {
    live.start(0);
    active("n1", 1, 0);
    active("n1", 2, 0);
    active("n2", 3, 0);
    live.appended(at(0), event("a"), false);

    assertThat(pushes).hasSize(2);
    assertThat(pushes).anySatisfy(p -> {
      assertThat(p.node).isEqualTo("n1");
      assertThat(p.subscriptions).containsExactlyInAnyOrder(1L, 2L);
      assertThat(p.events).containsExactly("a");
    });
    assertThat(pushes).anySatisfy(p -> {
      assertThat(p.node).isEqualTo("n2");
      assertThat(p.subscriptions).containsExactly(3L);
    });
  }

  @Test
  void aSubscriptionActivatedBehindTheWatermarkGetsTheMissingEventsFromTheRecentBuffer() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(0), event("a"), false);
    live.appended(at(1), event("b"), false);
    pushes.clear();
    // Its replay read saw the stream end at 1, but b was pushed meanwhile.
    active("n2", 7, 1);

    assertThat(pushes).containsExactly(new Push("n2", List.of(7L), 1, List.of("b"), false, LivePush.SIGNAL_NONE));
    live.appended(at(2), event("c"), false);
    assertThat(pushes).last().isEqualTo(new Push("n2", List.of(7L), 2, List.of("c"), false, LivePush.SIGNAL_NONE));
  }

  @Test
  void aSubscriptionTooFarBehindForTheRecentBufferIsToldToReRead() {
    live.start(0);
    active("n1", 1, 0);
    for (int i = 0; i < LiveFanOut.RECENT_EVENTS + 10; i++) {
      live.appended(at(i), event("x"), false);
    }
    pushes.clear();
    LiveFanOut.Sub late = live.subscribe("n2", 9, 0);
    live.activate(late, 0);

    assertThat(pushes).containsExactly(new Push("n2", List.of(9L), 0, List.of(), false, LivePush.SIGNAL_MOVED));
    assertThat(late.active).isFalse();
  }

  @Test
  void aCloseEndsEverySubscriptionAfterTheLastEvent() {
    live.start(0);
    active("n1", 1, 0);
    live.appended(at(0), event("a"), true);

    assertThat(pushes).containsExactly(new Push("n1", List.of(1L), 0, List.of("a"), true, LivePush.SIGNAL_NONE));
    assertThat(live.subscriptions()).isZero();
  }

  @Test
  void renewalsAnswerTheWatermarkAndUnknownSubscriptionsMustSubscribeAgain() {
    live.start(5);
    active("n1", 1, 5);
    assertThat(live.renew("n1", 1, 10)).isEqualTo(5);
    assertThat(live.renew("n1", 2, 10)).isEqualTo(LiveFanOut.NOT_SUBSCRIBED);
    LiveFanOut.Sub pending = live.subscribe("n1", 3, 10);
    assertThat(live.renew("n1", 3, 10)).as("replay not finished").isEqualTo(LiveFanOut.NOT_SUBSCRIBED);
    assertThat(live.isCurrent(pending)).isTrue();
  }

  @Test
  void leasesLapseForActiveSubscriptionsNotRenewedAndForNodesThatLeft() {
    live.start(0);
    active("n1", 1, 0);
    active("n2", 2, 0);
    live.renew("n2", 2, 100);
    LiveFanOut.Sub replaying = live.subscribe("n3", 3, 0);

    live.expire(50);
    assertThat(live.renew("n1", 1, 200)).isEqualTo(LiveFanOut.NOT_SUBSCRIBED);
    assertThat(live.renew("n2", 2, 200)).isZero();
    assertThat(live.isCurrent(replaying)).as("a subscription still replaying has no lease yet").isTrue();

    live.nodeLeft("n2");
    assertThat(live.renew("n2", 2, 300)).isEqualTo(LiveFanOut.NOT_SUBSCRIBED);
    assertThat(live.subscriptions()).isEqualTo(1);
  }

  @Test
  void aResubscriptionReplacesTheOldOneAndTheOldReplayCannotDropIt() {
    live.start(0);
    LiveFanOut.Sub first = live.subscribe("n1", 1, 0);
    LiveFanOut.Sub second = live.subscribe("n1", 1, 0);
    assertThat(live.isCurrent(first)).isFalse();
    live.drop(first);
    assertThat(live.isCurrent(second)).isTrue();
  }

  @Test
  void endingAndClearingSignalEverySubscription() {
    live.start(0);
    active("n1", 1, 0);
    live.endAll(LivePush.SIGNAL_MOVED);
    assertThat(pushes).containsExactly(new Push("n1", List.of(1L), 0, List.of(), false, LivePush.SIGNAL_MOVED));
    assertThat(live.subscriptions()).isZero();

    pushes.clear();
    active("n2", 2, 0);
    live.clear();
    assertThat(pushes).containsExactly(new Push("n2", List.of(2L), 0, List.of(), false, LivePush.SIGNAL_GONE));
    assertThat(live.watermark()).isEqualTo(-1);
    assertThat(live.visibleLimit()).isEqualTo(Long.MAX_VALUE);
  }
}
