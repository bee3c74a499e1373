package io.tether.cluster.owner;

import com.hazelcast.core.IndeterminateOperationStateException;
import com.hazelcast.core.MemberLeftException;
import io.tether.stream.AppendSpec;
import io.tether.stream.CreateSpec;
import io.tether.stream.Fence;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.RingLimits;
import io.tether.stream.StreamLog;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.vertx.core.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An owner's append that Hazelcast leaves in doubt is sent again and settled by the stream itself:
 * applied once, answered with its real offset, or left in doubt when nothing can tell. The attempts run
 * the real processors against a real stream; what Hazelcast did to each attempt is scripted.
 */
class AppendResolverTest {

  private static final long NOW = 1_000_000;
  private static final Fence OWNER = new Fence(1, 11);

  @BeforeAll
  static void register() {
    StreamProcessors.register();
  }

  /** What happens to one attempt, given the stream: its reply, or a failure, after or instead of running. */
  private final Deque<Function<Map.Entry<String, StreamLog>, Future<StreamReply>>> script = new ArrayDeque<>();
  private final List<String> sent = new ArrayList<>();
  private final Map.Entry<String, StreamLog> entry = new AbstractMap.SimpleEntry<>("s", StreamLog.create("s",
      new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null), List.of(), null,
      new RingLimits(1000, 1 << 20), 42, OWNER, "node-a", NOW));
  private long clock = NOW;
  /** Extra time the next pause takes, as when the process freezes through it. */
  private long freeze;
  private boolean retired;
  private int resolved;

  private final AppendResolver resolver = new AppendResolver("s", processor -> {
    sent.add(processor.getClass().getSimpleName());
    Function<Map.Entry<String, StreamLog>, Future<StreamReply>> next = script.poll();
    return next != null ? next.apply(entry) : Future.succeededFuture(processor.process(entry));
  }, () -> OWNER, () -> retired, delay -> {
    clock += delay + freeze;
    return Future.succeededFuture();
  }, () -> clock, () -> resolved++);

  /** The next attempt fails as Hazelcast reports it, without having run anywhere. */
  private void failsWithoutRunning(Throwable failure) {
    script.add(e -> Future.failedFuture(failure));
  }

  private static AppendSpec text(String body) {
    return new AppendSpec(body.getBytes(StandardCharsets.UTF_8), "text/plain", false, null, null);
  }

  private String content() {
    StringBuilder out = new StringBuilder();
    for (byte[] event : entry.getValue().read(ReadStart.BEGINNING, Long.MAX_VALUE).events()) {
      out.append(new String(event, StandardCharsets.UTF_8));
    }
    return out.toString();
  }

  private Future<StreamReply> append(String body) {
    return resolver.append(text(body), clock + 1_500);
  }

  @Test
  void anAppendAppliedThoughHazelcastCouldNotSaySoIsAnsweredOnceWithItsOffset() {
    append("a").await();
    // The primary applies "b", then its member leaves before the answer gets out.
    script.add(e -> {
      new StreamProcessors.Append(text("b"), OWNER, NOW, 2).process(e);
      return Future.failedFuture(new IndeterminateOperationStateException("member left"));
    });

    StreamReply reply = append("b").await();

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(reply.start()).isEqualTo(new Offset(1, 1));
    assertThat(content()).isEqualTo("ab");
    assertThat(sent).containsExactly("Append", "Append", "AppendAgain");
    assertThat(resolved).isEqualTo(1);
  }

  @Test
  void anAppendLostWithItsMemberIsAppliedOnce() {
    failsWithoutRunning(new MemberLeftException("the member running it left"));

    StreamReply reply = append("a").await();

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(reply.start()).isEqualTo(new Offset(0, 0));
    assertThat(content()).isEqualTo("a");
    assertThat(sent).containsExactly("Append", "AppendAgain");
  }

  @Test
  void anAppendWhoseBackupWasNotConfirmedIsSettledToo() {
    script.add(e -> {
      new StreamProcessors.Append(text("a"), OWNER, NOW, 1).process(e);
      return Future.failedFuture(new StreamOwner.UnconfirmedWrite("the backup member left"));
    });

    StreamReply reply = append("a").await();

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(content()).isEqualTo("a");
  }

  @Test
  void refusalsOfTheSecondAttemptAreRetriedUntilOneIsAnswered() {
    failsWithoutRunning(new MemberLeftException("gone"));
    script.add(e -> Future.succeededFuture(StreamReply.refusal(Outcome.UNDER_REPLICATED, "no backup yet")));
    script.add(e -> Future.succeededFuture(StreamReply.refusal(Outcome.NO_QUORUM, "not yet")));

    StreamReply reply = append("a").await();

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(content()).isEqualTo("a");
    assertThat(sent).containsExactly("Append", "AppendAgain", "AppendAgain", "AppendAgain");
  }

  @Test
  void whenTheStreamCannotTellTheAppendStaysInDoubtAndNothingChanges() {
    // An append no owner numbered (an older node's) went in where the record did not see it.
    entry.getValue().append(text("x"), NOW);
    failsWithoutRunning(new IndeterminateOperationStateException("backup did not answer"));

    Future<StreamReply> result = append("a");

    assertThat(result.failed()).isTrue();
    assertThat(result.cause()).isInstanceOf(AppendResolver.StillInDoubt.class);
    assertThat(content()).isEqualTo("x");
  }

  @Test
  void aFailureThatSaysTheAppendDidNotRunIsNotSentAgain() {
    script.add(e -> Future.failedFuture(new IllegalStateException("serialization failed")));

    Future<StreamReply> result = append("a");

    assertThat(result.failed()).isTrue();
    assertThat(result.cause()).isInstanceOf(IllegalStateException.class);
    assertThat(sent).containsExactly("Append");
  }

  @Test
  void nothingIsSentAgainPastTheWritersDeadlineOrByARetiredOwner() {
    failsWithoutRunning(new MemberLeftException("gone"));
    Future<StreamReply> late = resolver.append(text("a"), clock + AppendResolver.RESEND_DELAY_MILLIS);
    retired = true;
    failsWithoutRunning(new MemberLeftException("gone"));
    Future<StreamReply> fenced = append("b");

    assertThat(late.cause()).isInstanceOf(MemberLeftException.class);
    assertThat(fenced.cause()).isInstanceOf(MemberLeftException.class);
    assertThat(sent).containsExactly("Append", "Append");
  }

  @Test
  void aProcessThatFreezesThroughThePauseSendsNothingAfterTheDeadline() {
    failsWithoutRunning(new MemberLeftException("gone"));
    freeze = 10_000;

    Future<StreamReply> result = append("a");

    assertThat(result.cause()).isInstanceOf(MemberLeftException.class);
    assertThat(sent).containsExactly("Append");
    assertThat(content()).isEmpty();
  }

  @Test
  void refusalsUntilTheDeadlineLeaveTheFirstFailure() {
    failsWithoutRunning(new MemberLeftException("gone"));
    for (int i = 0; i < 20; i++) {
      script.add(e -> Future.succeededFuture(StreamReply.refusal(Outcome.NO_QUORUM, "not yet")));
    }

    Future<StreamReply> result = append("a");

    assertThat(result.failed()).isTrue();
    assertThat(AppendResolver.inDoubt(result.cause())).isTrue();
    assertThat(clock).isLessThanOrEqualTo(NOW + 1_500);
    assertThat(content()).isEmpty();
  }
}
