package io.tether.stream;

import io.tether.wire.BufferWire;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The stream state machine, without a cluster: what an owner's entry processors decide. */
class StreamLogTest {

  private static final long NOW = 1_000_000;
  private static final RingLimits LIMITS = new RingLimits(1000, 1 << 20);

  private static StreamLog stream(String contentType) {
    CreateSpec spec = new CreateSpec(new StreamSettings(contentType, -1, -1), List.of(), false, null);
    return StreamLog.create("s", spec, List.of(), null, LIMITS, 42, new Fence(1, 11), "node-a", NOW);
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static StreamReply append(StreamLog log, String body) {
    return log.append(new AppendSpec(b(body), "text/plain", false, null, null), NOW).reply();
  }

  private static StreamReply produce(StreamLog log, String id, long epoch, long seq, String body) {
    return log.append(new AppendSpec(b(body), "text/plain", false, null, new ProducerHeaders(id, epoch, seq)), NOW).reply();
  }

  private static String readAll(StreamLog log) {
    StringBuilder out = new StringBuilder();
    for (byte[] e : log.read(ReadStart.BEGINNING, Long.MAX_VALUE).events()) {
      out.append(new String(e, StandardCharsets.UTF_8));
    }
    return out.toString();
  }

  @Test
  void appendsGetDenseOffsetsAndReadsResumeExactlyAfterAnOffset() {
    StreamLog log = stream("text/plain");
    assertThat(append(log, "ab").start()).isEqualTo(new Offset(0, 0));
    assertThat(append(log, "cde").start()).isEqualTo(new Offset(1, 2));
    assertThat(append(log, "f").next()).isEqualTo(new Offset(3, 6));

    StreamReply fromMiddle = log.read(new ReadStart.At(new Offset(1, 2)), Long.MAX_VALUE);
    assertThat(fromMiddle.events()).extracting(String::new).containsExactly("cde", "f");
    assertThat(fromMiddle.start()).isEqualTo(new Offset(1, 2));
    assertThat(fromMiddle.upToDate()).isTrue();

    StreamReply atTail = log.read(ReadStart.NOW, Long.MAX_VALUE);
    assertThat(atTail.events()).isEmpty();
    assertThat(atTail.next()).isEqualTo(new Offset(3, 6));
  }

  @Test
  void readsPastTheTailAreRefusedAndEvictedOffsetsAreGone() {
    CreateSpec spec = new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null);
    StreamLog log = StreamLog.create("s", spec, List.of(), null, new RingLimits(2, 1000), 1, new Fence(1, 11), "n", NOW);
    for (String s : new String[] {"a", "b", "c", "d"}) {
      append(log, s);
    }
    assertThat(log.read(new ReadStart.At(new Offset(5, 5)), 100).outcome()).isEqualTo(Outcome.OFFSET_FUTURE);
    StreamReply gone = log.read(new ReadStart.At(new Offset(1, 1)), 100);
    assertThat(gone.outcome()).isEqualTo(Outcome.OFFSET_GONE);
    assertThat(gone.earliest()).isEqualTo(new Offset(2, 2));
    assertThat(log.read(ReadStart.BEGINNING, 100).outcome()).isEqualTo(Outcome.OFFSET_GONE);
    assertThat(log.read(new ReadStart.At(new Offset(2, 2)), 100).events()).extracting(String::new).containsExactly("c", "d");
  }

  @Test
  void partialReadsDoNotReportUpToDateOrClosed() {
    StreamLog log = stream("text/plain");
    append(log, "aaaa");
    append(log, "bbbb");
    log.append(new AppendSpec(new byte[0], null, true, null, null), NOW);
    StreamReply first = log.read(ReadStart.BEGINNING, 5);
    assertThat(first.events()).hasSize(1);
    assertThat(first.upToDate()).isFalse();
    assertThat(first.closed()).isFalse();
    StreamReply rest = log.read(new ReadStart.At(first.next()), 5);
    assertThat(rest.upToDate()).isTrue();
    assertThat(rest.closed()).isTrue();
  }

  @Test
  void idempotentProducerDeduplicatesFencesAndDetectsGaps() {
    StreamLog log = stream("text/plain");
    assertThat(produce(log, "p", 0, 0, "a").outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(produce(log, "p", 0, 1, "b").outcome()).isEqualTo(Outcome.APPENDED);

    StreamReply duplicate = produce(log, "p", 0, 0, "a");
    assertThat(duplicate.outcome()).isEqualTo(Outcome.DUPLICATE);
    assertThat(duplicate.producerSeq()).isEqualTo(1);

    StreamReply gap = produce(log, "p", 0, 3, "d");
    assertThat(gap.outcome()).isEqualTo(Outcome.PRODUCER_SEQ_GAP);
    assertThat(gap.expectedSeq()).isEqualTo(2);
    assertThat(gap.receivedSeq()).isEqualTo(3);

    assertThat(produce(log, "p", 1, 5, "x").outcome()).isEqualTo(Outcome.BAD_REQUEST);
    // A producer the stream does not know, whose first request overtook its predecessors: start from 0.
    StreamReply overtaken = produce(log, "q", 0, 3, "y");
    assertThat(overtaken.outcome()).isEqualTo(Outcome.PRODUCER_SEQ_GAP);
    assertThat(overtaken.expectedSeq()).isZero();
    assertThat(overtaken.receivedSeq()).isEqualTo(3);
    assertThat(produce(log, "p", 1, 0, "c").outcome()).isEqualTo(Outcome.APPENDED);
    StreamReply zombie = produce(log, "p", 0, 2, "z");
    assertThat(zombie.outcome()).isEqualTo(Outcome.PRODUCER_STALE_EPOCH);
    assertThat(zombie.producerEpoch()).isEqualTo(1);

    assertThat(readAll(log)).isEqualTo("abc");
  }

  /**
   * Producer state is bounded in bytes as well as in count, least recently used first: many producers
   * with long ids cannot grow a stream's state (and its backup) without limit. A forgotten producer that
   * returns with a sequence number above 0 is refused, never appended twice.
   */
  @Test
  void producerStateIsBoundedInBytesForgettingTheLeastRecentlyUsed() {
    StreamLog withProducers = stream("text/plain");
    StreamLog without = stream("text/plain");
    String id = "x".repeat(250);
    int producers = 400;
    for (int i = 0; i < producers; i++) {
      assertThat(produce(withProducers, id + i, 0, 0, "e").outcome()).isEqualTo(Outcome.APPENDED);
      append(without, "e");
    }
    // What the producers add to the replicated state (and to its backup) stays within the bound.
    long producerState = serialized(withProducers) - serialized(without);
    assertThat(producerState).isLessThanOrEqualTo(StreamLog.MAX_PRODUCER_BYTES);
    // The most recent are remembered (a retry is a duplicate); the oldest is forgotten, and its next
    // sequence number is answered with a gap from 0 rather than appended as if it were a new producer's.
    assertThat(produce(withProducers, id + (producers - 1), 0, 0, "e").outcome()).isEqualTo(Outcome.DUPLICATE);
    StreamReply forgotten = produce(withProducers, id + 0, 0, 1, "e");
    assertThat(forgotten.outcome()).isEqualTo(Outcome.PRODUCER_SEQ_GAP);
    assertThat(forgotten.expectedSeq()).isZero();
    // A copy made from the serialised state keeps exactly the same producers.
    StreamLog copy = roundTrip(withProducers);
    assertThat(serialized(copy)).isEqualTo(serialized(withProducers));
  }

  private static long serialized(StreamLog log) {
    Buffer buffer = Buffer.buffer();
    log.writeTo(new BufferWire.Out(buffer));
    return buffer.length();
  }

  private static StreamLog roundTrip(StreamLog log) {
    Buffer buffer = Buffer.buffer();
    log.writeTo(new BufferWire.Out(buffer));
    return StreamLog.readFrom(new BufferWire.In(buffer, 0, buffer.length()));
  }

  @Test
  void streamSeqMustIncreaseByteWise() {
    StreamLog log = stream("text/plain");
    AppendSpec first = new AppendSpec(b("1"), "text/plain", false, "2", null);
    AppendSpec lower = new AppendSpec(b("2"), "text/plain", false, "10", null);
    assertThat(log.append(first, NOW).reply().outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(log.append(lower, NOW).reply().outcome()).isEqualTo(Outcome.CONFLICT_SEQ);
    assertThat(StreamLog.compareBytes("a", "B")).isPositive();
  }

  @Test
  void closedStreamsRefuseAppendsButAcceptTheClosingRetry() {
    StreamLog log = stream("text/plain");
    ProducerHeaders closer = new ProducerHeaders("p", 0, 0);
    StreamReply closed = log.append(new AppendSpec(b("final"), "text/plain", true, null, closer), NOW).reply();
    assertThat(closed.outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(closed.closed()).isTrue();

    assertThat(log.append(new AppendSpec(b("retry"), "text/plain", true, null, closer), NOW).reply().outcome())
        .isEqualTo(Outcome.DUPLICATE);
    assertThat(append(log, "late").outcome()).isEqualTo(Outcome.CONFLICT_CLOSED);
    assertThat(log.append(new AppendSpec(new byte[0], null, true, null, null), NOW).reply().outcome())
        .isEqualTo(Outcome.DUPLICATE);
    assertThat(readAll(log)).isEqualTo("final");
  }

  @Test
  void contentTypeIsComparedByMediaType() {
    StreamLog log = stream("application/json; charset=utf-8");
    AppendSpec json = new AppendSpec(b("{}"), "APPLICATION/JSON", false, null, null);
    AppendSpec text = new AppendSpec(b("x"), "text/plain", false, null, null);
    assertThat(log.append(json, NOW).reply().outcome()).isEqualTo(Outcome.APPENDED);
    assertThat(log.append(text, NOW).reply().outcome()).isEqualTo(Outcome.CONFLICT_CONTENT_TYPE);
  }

  @Test
  void slidingTtlExpiresIdleStreamsAndAbsoluteExpiryIgnoresActivity() {
    CreateSpec ttl = new CreateSpec(new StreamSettings("text/plain", 2, -1), List.of(), false, null);
    StreamLog log = StreamLog.create("s", ttl, List.of(), null, LIMITS, 1, new Fence(1, 11), "n", NOW);
    assertThat(log.isExpired(NOW + 1999)).isFalse();
    log.touch(NOW + 1500);
    assertThat(log.isExpired(NOW + 3000)).isFalse();
    assertThat(log.isExpired(NOW + 3500)).isTrue();

    CreateSpec at = new CreateSpec(new StreamSettings("text/plain", -1, NOW + 1000), List.of(), false, null);
    StreamLog fixed = StreamLog.create("s", at, List.of(), null, LIMITS, 1, new Fence(1, 11), "n", NOW);
    fixed.touch(NOW + 900);
    assertThat(fixed.isExpired(NOW + 1000)).isTrue();
  }

  @Test
  void forkDataCopiesUpToTheOffsetPlusASubOffsetPrefix() {
    StreamLog log = stream("text/plain");
    append(log, "first");
    append(log, "second");
    StreamReply data = log.forkData(new ForkSpec("s", new Offset(1, 5), 3), null);
    assertThat(data.outcome()).isEqualTo(Outcome.OK);
    assertThat(data.events()).extracting(String::new).containsExactly("first", "sec");
    assertThat(data.next()).isEqualTo(new Offset(1, 5));

    assertThat(log.forkData(new ForkSpec("s", new Offset(1, 5), 7), null).outcome()).isEqualTo(Outcome.BAD_REQUEST);
    assertThat(log.forkData(new ForkSpec("s", new Offset(9, 0), 0), null).outcome()).isEqualTo(Outcome.BAD_REQUEST);
    assertThat(log.forkData(new ForkSpec("s", null, 0), "application/json").outcome())
        .isEqualTo(Outcome.CONFLICT_CONTENT_TYPE);
  }

  @Test
  void jsonSubOffsetCountsMessages() {
    StreamLog log = stream("application/json");
    byte[] batch = JsonBatch.parse(b("[{\"a\":1},{\"b\":2},{\"c\":3}]")).payload();
    log.append(new AppendSpec(batch, "application/json", false, null, null), NOW);
    StreamReply data = log.forkData(new ForkSpec("s", Offset.ZERO, 2), null);
    assertThat(data.events()).extracting(String::new).containsExactly("{\"a\":1},{\"b\":2}");
    assertThat(log.forkData(new ForkSpec("s", Offset.ZERO, 4), null).outcome()).isEqualTo(Outcome.BAD_REQUEST);
  }

  @Test
  void deletingAReferencedStreamLeavesATombstoneUntilTheLastForkGoes() {
    StreamLog log = stream("text/plain");
    append(log, "data");
    log.addForkRef();
    log.addForkRef();
    assertThat(log.delete()).isFalse();
    assertThat(log.isSoftDeleted()).isTrue();
    assertThat(log.retainedBytes()).isZero();
    assertThat(log.releaseForkRef()).isFalse();
    assertThat(log.releaseForkRef()).isTrue();
  }

  @Test
  void survivesSerialisationWithItsRingAndProducers() {
    StreamLog log = stream("text/plain");
    produce(log, "p", 3, 0, "one");
    produce(log, "p", 3, 1, "two");
    log.claim("node-b", 22, NOW);
    Buffer buffer = Buffer.buffer();
    log.writeTo(new BufferWire.Out(buffer));
    StreamLog copy = StreamLog.readFrom(new BufferWire.In(buffer, 0, buffer.length()));
    assertThat(readAll(copy)).isEqualTo("onetwo");
    assertThat(copy.ownerEpoch()).isEqualTo(2);
    assertThat(copy.isOwnedBy(new Fence(2, 22))).isTrue();
    assertThat(copy.ownerNode()).isEqualTo("node-b");
    assertThat(produce(copy, "p", 3, 1, "two").outcome()).isEqualTo(Outcome.DUPLICATE);
    assertThat(produce(copy, "p", 3, 2, "three").outcome()).isEqualTo(Outcome.APPENDED);
  }

  @Test
  void anAppendEffectReplayedOnACopyYieldsTheSameState() {
    StreamLog primary = stream("text/plain");
    Buffer buffer = Buffer.buffer();
    primary.writeTo(new BufferWire.Out(buffer));
    StreamLog backup = StreamLog.readFrom(new BufferWire.In(buffer, 0, buffer.length()));

    StreamLog.Applied applied = primary.append(
        new AppendSpec(b("x"), "text/plain", true, "s1", new ProducerHeaders("p", 0, 0)), NOW);
    backup.applyReplicated(applied.effect());

    assertThat(readAll(backup)).isEqualTo(readAll(primary));
    assertThat(backup.isClosed()).isTrue();
    assertThat(backup.tail()).isEqualTo(primary.tail());
    assertThat(produce(backup, "p", 0, 0, "x").outcome()).isEqualTo(Outcome.DUPLICATE);
  }

  @Test
  void aBackupCopyBehindTheChangeRefusesItAndACopyAheadSkipsIt() {
    StreamLog primary = stream("text/plain");
    Buffer buffer = Buffer.buffer();
    primary.writeTo(new BufferWire.Out(buffer));
    StreamLog behind = StreamLog.readFrom(new BufferWire.In(buffer, 0, buffer.length()));

    StreamLog.Applied lost = primary.append(new AppendSpec(b("a"), "text/plain", false, null, null), NOW);
    StreamLog.Applied next = primary.append(new AppendSpec(b("b"), "text/plain", false, null, null), NOW);
    assertThat(next.effect().atIndex()).isEqualTo(1);

    // The copy never received "a": applying "b" blind would put it at offset 0.
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> behind.applyReplicated(next.effect()))
        .isInstanceOf(StreamLog.ReplicaGap.class);
    assertThat(readAll(behind)).isEmpty();

    // A copy that received the whole stream (a resynchronisation) already holds both: it skips them.
    Buffer whole = Buffer.buffer();
    primary.writeTo(new BufferWire.Out(whole));
    StreamLog resynced = StreamLog.readFrom(new BufferWire.In(whole, 0, whole.length()));
    resynced.applyReplicated(lost.effect());
    resynced.applyReplicated(next.effect());
    assertThat(readAll(resynced)).isEqualTo("ab");
  }

  @Test
  void theFenceIsTheClaimNotJustTheEpoch() {
    StreamLog log = stream("text/plain");
    assertThat(log.isOwnedBy(new Fence(1, 11))).isTrue();
    // Another claimant that reached the same epoch (the other side of a split) holds another fence.
    assertThat(log.isOwnedBy(new Fence(1, 99))).isFalse();

    Fence claimed = log.claim("node-b", 33, NOW);
    assertThat(claimed).isEqualTo(new Fence(2, 33));
    assertThat(log.isOwnedBy(new Fence(1, 11))).isFalse();
    assertThat(log.isOwnedBy(new Fence(2, 34))).isFalse();

    // A re-created stream starts again at epoch 1, under its creator's token: an owner of the deleted
    // incarnation that also held epoch 1 cannot act on it.
    CreateSpec spec = new CreateSpec(new StreamSettings("text/plain", -1, -1), List.of(), false, null);
    StreamLog recreated = StreamLog.create("s", spec, List.of(), null, LIMITS, 43, new Fence(1, 77), "node-c", NOW);
    assertThat(recreated.isOwnedBy(new Fence(1, 11))).isFalse();
    assertThat(recreated.isOwnedBy(new Fence(1, 77))).isTrue();
  }

  @Test
  void readsStopAtTheCommittedWatermark() {
    StreamLog log = stream("text/plain");
    append(log, "a");
    append(log, "b");
    append(log, "c");

    StreamReply upToTwo = log.read(ReadStart.BEGINNING, Long.MAX_VALUE, 2);
    assertThat(upToTwo.events()).hasSize(2);
    assertThat(upToTwo.next()).isEqualTo(new Offset(2, 2));
    assertThat(upToTwo.upToDate()).isTrue();
    // Reading from the watermark finds nothing yet; past it is the future.
    assertThat(log.read(new ReadStart.At(new Offset(2, 2)), Long.MAX_VALUE, 2).events()).isEmpty();
    assertThat(log.read(new ReadStart.At(new Offset(3, 3)), Long.MAX_VALUE, 2).outcome()).isEqualTo(Outcome.OFFSET_FUTURE);
    assertThat(log.describe(Outcome.OK, 2).build().next()).isEqualTo(new Offset(2, 2));
    assertThat(log.read(ReadStart.NOW, Long.MAX_VALUE, 1).next()).isEqualTo(new Offset(1, 1));
    // A fork of "the tail" inherits only what is committed.
    assertThat(log.forkData(new ForkSpec("s", null, 0), null, 2).events()).hasSize(2);
    assertThat(log.read(ReadStart.BEGINNING, Long.MAX_VALUE, Long.MAX_VALUE).events()).hasSize(3);
  }
}
