package io.tether.stream;

import io.tether.wire.BufferWire;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An append its owner sends again after Hazelcast could not say whether the first was applied (the
 * member running it left, its backup did not confirm it): applied exactly once, whichever of the two
 * arrives, or answered as in doubt, with nothing changed, when the stream cannot tell.
 */
class AppendAgainTest {

  private static final long NOW = 1_000_000;
  private static final Fence OWNER = new Fence(1, 11);

  @BeforeAll
  static void register() {
    StreamProcessors.register();
  }

  private static Map.Entry<String, StreamLog> stream() {
    return stream(1000);
  }

  private static Map.Entry<String, StreamLog> stream(int retainedEvents) {
    CreateSpec spec = new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null);
    return new AbstractMap.SimpleEntry<>("s", StreamLog.create("s", spec, List.of(), null,
        new RingLimits(retainedEvents, 1 << 20), 42, OWNER, "node-a", NOW));
  }

  private static AppendSpec text(String body) {
    return new AppendSpec(body.getBytes(StandardCharsets.UTF_8), "text/plain", false, null, null);
  }

  private static StreamReply append(Map.Entry<String, StreamLog> entry, String body, long seq) {
    return new StreamProcessors.Append(text(body), OWNER, NOW, seq).process(entry);
  }

  private static StreamProcessors.AppendAgain again(String body, long seq) {
    return new StreamProcessors.AppendAgain(text(body), OWNER, NOW, seq);
  }

  private static String content(Map.Entry<String, StreamLog> entry) {
    StringBuilder out = new StringBuilder();
    for (byte[] event : entry.getValue().read(ReadStart.BEGINNING, Long.MAX_VALUE).events()) {
      out.append(new String(event, StandardCharsets.UTF_8));
    }
    return out.toString();
  }

  /** A copy of the stream as a backup replica holds it: through the wire, as Hazelcast ships it. */
  private static Map.Entry<String, StreamLog> copy(Map.Entry<String, StreamLog> entry) {
    return new AbstractMap.SimpleEntry<>("s", (StreamLog) BufferWire.decode(BufferWire.encode(entry.getValue())));
  }

  @Test
  void anAppendFoundAppliedIsAnsweredWithItsOffsetAndNotAppliedTwice() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);
    append(entry, "bb", 2);

    StreamProcessors.AppendAgain resent = again("a", 1);
    StreamReply reply = resent.process(entry);

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(reply.start()).isEqualTo(new Offset(0, 0));
    assertThat(content(entry)).isEqualTo("abb");
    // The backup may be the copy that lacks it: the whole stream goes to it.
    assertThat(resent.getBackupProcessor()).isInstanceOf(StreamProcessors.Put.class);
  }

  @Test
  void anAppendThatWasNeverAppliedIsAppliedOnceHoweverOftenItIsSent() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);

    StreamReply first = again("b", 2).process(entry);
    StreamReply second = again("b", 2).process(entry);

    assertThat(first.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(first.start()).isEqualTo(new Offset(1, 1));
    assertThat(second.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(second.start()).isEqualTo(first.start());
    assertThat(content(entry)).isEqualTo("ab");
  }

  @Test
  void anOriginalThatArrivesAfterItWasSentAgainIsNotAppliedAgain() {
    Map.Entry<String, StreamLog> entry = stream();
    StreamReply resent = again("a", 1).process(entry);

    StreamReply late = append(entry, "a", 1);

    assertThat(late.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(late.start()).isEqualTo(resent.start());
    assertThat(content(entry)).isEqualTo("a");
  }

  @Test
  void aBackupPromotedToPrimaryKnowsTheAppendsItReceived() {
    Map.Entry<String, StreamLog> primary = stream();
    Map.Entry<String, StreamLog> backup = copy(primary);
    StreamProcessors.Append original = new StreamProcessors.Append(text("a"), OWNER, NOW, 1);
    original.process(primary);
    original.getBackupProcessor().process(backup);

    // The primary's member left before answering; its backup now answers for the stream.
    StreamReply reply = again("a", 1).process(backup);

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(reply.start()).isEqualTo(new Offset(0, 0));
    assertThat(content(backup)).isEqualTo("a");
  }

  @Test
  void aBackupThatNeverReceivedTheAppendAppliesItWhenPromoted() {
    Map.Entry<String, StreamLog> primary = stream();
    Map.Entry<String, StreamLog> backup = copy(primary);
    append(primary, "a", 1);

    StreamReply reply = again("a", 1).process(backup);

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(content(backup)).isEqualTo("a");
  }

  @Test
  void anAppendOlderThanTheRecordIsInDoubtAndChangesNothing() {
    Map.Entry<String, StreamLog> entry = stream();
    for (int seq = 1; seq <= OwnerAppends.WINDOW + 1; seq++) {
      append(entry, "x", seq);
    }
    String before = content(entry);

    StreamReply forgotten = again("x", 1).process(entry);
    StreamReply remembered = again("x", 2).process(entry);
    StreamReply neverSent = again("y", OwnerAppends.WINDOW + 2).process(entry);

    assertThat(forgotten.outcome()).isEqualTo(Outcome.IN_DOUBT);
    assertThat(remembered.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(remembered.start()).isEqualTo(new Offset(1, 1));
    assertThat(neverSent.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(content(entry)).isEqualTo(before + "y");
  }

  @Test
  void aProducersAppendFoundAppliedIsAnsweredAsTheProducerWasTheFirstTime() {
    Map.Entry<String, StreamLog> entry = stream();
    AppendSpec produced = new AppendSpec("a".getBytes(StandardCharsets.UTF_8), "text/plain", false, null,
        new ProducerHeaders("writer", 3, 0));
    StreamReply first = new StreamProcessors.Append(produced, OWNER, NOW, 1).process(entry);

    StreamReply resent = new StreamProcessors.AppendAgain(produced, OWNER, NOW, 1).process(entry);

    assertThat(resent.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(resent.start()).isEqualTo(first.start());
    assertThat(resent.producerEpoch()).isEqualTo(3);
    assertThat(resent.producerSeq()).isEqualTo(0);
    assertThat(content(entry)).isEqualTo("a");
  }

  @Test
  void aCloseWithoutDataFoundAppliedIsAnsweredAtTheTail() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);
    AppendSpec close = new AppendSpec(new byte[0], null, true, null, null);
    new StreamProcessors.Append(close, OWNER, NOW, 2).process(entry);

    StreamReply resent = new StreamProcessors.AppendAgain(close, OWNER, NOW, 2).process(entry);

    assertThat(resent.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(resent.start()).isEqualTo(new Offset(1, 1));
    assertThat(entry.getValue().isClosed()).isTrue();
    assertThat(content(entry)).isEqualTo("a");
  }

  @Test
  void anAppendAppliedWhoseEventLeftTheRetainedWindowIsInDoubt() {
    Map.Entry<String, StreamLog> entry = stream(2);
    append(entry, "a", 1);
    append(entry, "b", 2);
    append(entry, "c", 3);

    StreamReply reply = again("a", 1).process(entry);

    // Applied, but where it starts is gone with it: not applied again, and not answered as a success.
    assertThat(reply.outcome()).isEqualTo(Outcome.IN_DOUBT);
    assertThat(entry.getValue().tail()).isEqualTo(new Offset(3, 3));
  }

  @Test
  void anAppendTheRecordDidNotSeeMakesEverythingBeforeItInDoubt() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);
    // An owner of an older version numbers nothing: the record cannot account for this one.
    append(entry, "b", 0);

    StreamReply reply = again("c", 2).process(entry);

    assertThat(reply.outcome()).isEqualTo(Outcome.IN_DOUBT);
    assertThat(content(entry)).isEqualTo("ab");
  }

  @Test
  void aNewOwnerStartsWithNothingApplied() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);
    Fence next = entry.getValue().claim("node-b", 12, NOW);

    StreamReply reply = new StreamProcessors.AppendAgain(text("b"), next, NOW, 1).process(entry);
    StreamReply stale = again("c", 2).process(entry);

    assertThat(reply.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(reply.start()).isEqualTo(new Offset(1, 1));
    assertThat(stale.outcome()).isEqualTo(Outcome.STALE_OWNER);
    assertThat(content(entry)).isEqualTo("ab");
  }

  @Test
  void theRecordTravelsWithTheStream() {
    Map.Entry<String, StreamLog> entry = stream();
    append(entry, "a", 1);
    append(entry, "b", 2);

    Map.Entry<String, StreamLog> copied = copy(entry);

    assertThat(again("b", 2).process(copied).start()).isEqualTo(new Offset(1, 1));
    assertThat(again("c", 3).process(copied).start()).isEqualTo(new Offset(2, 2));
    assertThat(content(copied)).isEqualTo("abc");
  }
}
