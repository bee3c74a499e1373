package io.tether.stream;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.map.EntryProcessor;
import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;
import io.tether.wire.WireTypes;

import java.util.List;
import java.util.Map;

/**
 * The entry processors that read and change a stream. Each runs on the partition thread that owns the
 * stream's key, against the live object (the map uses {@code OBJECT} in-memory format), so an append
 * costs O(event size): the event is added to the ring in place, and only an {@link AppendEffect} is
 * shipped to the backup replica. Hazelcast answers the caller only after the synchronous backup has
 * acknowledged, which is what makes an acknowledged append survive the loss of the primary.
 *
 * <p>Every processor that acts for an owner carries the owner's {@link Fence}; a mismatch answers
 * {@link Outcome#STALE_OWNER} and changes nothing. Before that, every processor asks the member's
 * {@link WriteGuard} whether this copy may act at all (majority side, no pause, a backup for writes).
 *
 * <p>Backups are never applied blind: an append's effect carries the index it was made at, and a backup
 * copy that is elsewhere refuses it by throwing. Hazelcast then never acknowledges the backup, the
 * primary's write fails (with {@code hazelcast.operation.fail.on.indeterminate.state}) instead of being
 * acknowledged, and the owner re-replicates the whole stream ({@link Replicate}) before it shows anything
 * past that point.
 */
public final class StreamProcessors {

  private StreamProcessors() {
  }

  public static void register() {
    WireTypes.register(StreamLog.WIRE_TYPE, StreamLog::readFrom);
    WireTypes.register(StreamReply.WIRE_TYPE, StreamReply::readFrom);
    WireTypes.register(AppendEffect.WIRE_TYPE, AppendEffect::readFrom);
    WireTypes.register(StreamHeader.WIRE_TYPE, StreamHeader::readFrom);
    WireTypes.register(Claim.WIRE_TYPE, Claim::readFrom);
    WireTypes.register(Create.WIRE_TYPE, Create::readFrom);
    WireTypes.register(Append.WIRE_TYPE, Append::readFrom);
    WireTypes.register(Read.WIRE_TYPE, Read::readFrom);
    WireTypes.register(Delete.WIRE_TYPE, Delete::readFrom);
    WireTypes.register(ForkData.WIRE_TYPE, ForkData::readFrom);
    WireTypes.register(ReleaseRef.WIRE_TYPE, ReleaseRef::readFrom);
    WireTypes.register(Expire.WIRE_TYPE, Expire::readFrom);
    WireTypes.register(ApplyAppend.WIRE_TYPE, ApplyAppend::readFrom);
    WireTypes.register(Put.WIRE_TYPE, Put::readFrom);
    WireTypes.register(Remove.WIRE_TYPE, Remove::readFrom);
    WireTypes.register(ApplyHeader.WIRE_TYPE, ApplyHeader::readFrom);
    WireTypes.register(Replicate.WIRE_TYPE, Replicate::readFrom);
    WireTypes.register(AppendAgain.WIRE_TYPE, AppendAgain::readFrom);
  }

  /** Base of the primary-side processors: the backup processor is chosen by {@link #process}. */
  public abstract static class Primary
      implements EntryProcessor<String, StreamLog, StreamReply>, WireMessage, HazelcastInstanceAware {
    private transient EntryProcessor<String, StreamLog, StreamReply> backup;
    private transient WriteGuard guard;
    /**
     * Set on the instance a caller submits (never on a copy read from the network): the reply is left
     * here instead of returned, so a processor that runs on this member is answered without Hazelcast
     * serializing its reply on the partition thread and reading it back on the caller's. Read only after
     * the operation completed (its completion orders the write before the read).
     */
    private transient volatile boolean answerInPlace;
    private transient volatile StreamReply answer;

    /** The processor's work: the reply to the caller. */
    abstract StreamReply apply(Map.Entry<String, StreamLog> entry);

    @Override
    public final StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamReply reply = apply(entry);
      if (answerInPlace) {
        answer = reply;
        return null;
      }
      return reply;
    }

    /** Asks for the reply to be left on this instance when it runs on this member (see {@link #answer}). */
    public final void answerInPlace() {
      answerInPlace = true;
    }

    /**
     * The reply of a completed operation: what Hazelcast returned when the processor ran on another
     * member (a serialized copy answers), else the one it left here.
     */
    public final StreamReply reply(StreamReply returned) {
      return returned != null ? returned : answer;
    }

    @Override
    public final void setHazelcastInstance(HazelcastInstance instance) {
      guard = instance.getUserContext().get(WriteGuard.CONTEXT_KEY) instanceof WriteGuard g ? g : null;
    }

    /** The member guard's refusal for this stream, or {@code null}. */
    final StreamReply guard(Map.Entry<String, StreamLog> entry, boolean write) {
      return guard == null ? null : guard.refusal(entry.getKey(), write);
    }

    /** The member guard's refusal to take this stream's absence as an answer, or {@code null}. */
    final StreamReply absent(Map.Entry<String, StreamLog> entry) {
      return guard == null ? null : guard.absentRefusal(entry.getKey());
    }

    @Override
    public final EntryProcessor<String, StreamLog, StreamReply> getBackupProcessor() {
      return backup;
    }

    /** Replaces the entry and ships {@code backupProcessor} to the backup replica. */
    final void replicate(Map.Entry<String, StreamLog> entry, StreamLog value,
                         EntryProcessor<String, StreamLog, StreamReply> backupProcessor) {
      entry.setValue(value);
      this.backup = backupProcessor;
    }

    /** Removes the entry on both replicas. */
    final void remove(Map.Entry<String, StreamLog> entry) {
      entry.setValue(null);
      this.backup = new Remove();
    }

    /**
     * Drops an expired stream (or turns it into a tombstone when forks reference it).
     *
     * @return the fork source to release, or {@code null}
     */
    final String expire(Map.Entry<String, StreamLog> entry, StreamLog log) {
      String source = log.forkSource();
      if (log.delete()) {
        remove(entry);
        return source;
      }
      replicate(entry, log, new ApplyHeader(log.header()));
      return null;
    }

    /**
     * Common preamble: absent, expired or soft-deleted streams, and the ownership fence. Returns a reply
     * to answer with, or {@code null} to proceed.
     */
    final StreamReply gate(Map.Entry<String, StreamLog> entry, Fence fence, long now, boolean write) {
      StreamReply unguarded = guard(entry, write);
      if (unguarded != null) {
        return unguarded;
      }
      StreamLog log = entry.getValue();
      if (log == null) {
        StreamReply unknown = absent(entry);
        return unknown != null ? unknown : StreamReply.refusal(Outcome.NOT_FOUND, "stream not found");
      }
      if (log.isExpired(now)) {
        String release = expire(entry, log);
        return StreamReply.of(Outcome.NOT_FOUND).detail("stream expired").releaseSource(release).build();
      }
      if (log.isSoftDeleted()) {
        return StreamReply.refusal(Outcome.SOFT_DELETED, "stream was deleted");
      }
      if (!log.isOwnedBy(fence)) {
        return StreamReply.of(Outcome.STALE_OWNER).detail("ownership moved").owner(log.ownerEpoch(), log.ownerNode()).build();
      }
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ claim

  /**
   * Takes ownership of an existing stream with the next epoch and the claimant's token; answers
   * {@link Outcome#ABSENT} otherwise. The claim ships the whole stream to the backup, so the new owner
   * starts from a state that is on both copies (after a failover the promoted copy may have had no
   * backup yet), and everything up to the tail it reports is replicated. It needs a quorum but not a
   * backup: a stream whose partition has no backup right now can still be read (its events were on two
   * copies when they were written); it refuses writes until it has one.
   */
  public static final class Claim extends Primary {
    static final int WIRE_TYPE = 110;
    private final String node;
    private final long token;
    private final long now;

    public Claim(String node, long token, long now) {
      this.node = node;
      this.token = token;
      this.now = now;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply unguarded = guard(entry, false);
      if (unguarded != null) {
        return unguarded;
      }
      StreamLog log = entry.getValue();
      if (log == null) {
        StreamReply unknown = absent(entry);
        return unknown != null ? unknown : StreamReply.refusal(Outcome.ABSENT, "stream not found");
      }
      if (log.isExpired(now)) {
        String release = expire(entry, log);
        return StreamReply.of(Outcome.ABSENT).releaseSource(release).build();
      }
      String previous = log.ownerNode();
      log.claim(node, token, now);
      replicate(entry, log, new Put(log));
      return log.describe(Outcome.OK).previousOwner(previous).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(node);
      out.writeLong(token);
      out.writeLong(now);
    }

    static Claim readFrom(WireInput in) {
      return new Claim(in.readString(), in.readLong(), in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ create

  /**
   * PUT: creates the stream when absent (with the inherited fork data, if any), else compares
   * configurations. With {@code probe} set, an absent stream is reported as {@link Outcome#ABSENT}
   * instead of being created: a fork owner probes before it takes a reference on the source.
   */
  public static final class Create extends Primary {
    static final int WIRE_TYPE = 111;
    private final CreateSpec spec;
    private final List<byte[]> inherited;
    private final Offset inheritedStart;
    private final long forkIndex;
    private final RingLimits limits;
    private final long incarnation;
    private final Fence fence;
    private final String node;
    private final long now;
    private final boolean probe;

    /**
     * @param fence the creating owner's fence; a new stream is created under {@code fence.next(fence.token())}
     *              (an owner's token is its own, so a stale owner of an earlier incarnation with the same
     *              epoch is still fenced off)
     */
    public Create(CreateSpec spec, List<byte[]> inherited, Offset inheritedStart, long forkIndex, RingLimits limits,
                  long incarnation, Fence fence, String node, long now, boolean probe) {
      this.spec = spec;
      this.inherited = inherited == null ? List.of() : inherited;
      this.inheritedStart = inheritedStart;
      this.forkIndex = forkIndex;
      this.limits = limits;
      this.incarnation = incarnation;
      this.fence = fence;
      this.node = node;
      this.now = now;
      this.probe = probe;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply unguarded = guard(entry, !probe);
      if (unguarded != null) {
        return unguarded;
      }
      StreamLog existing = entry.getValue();
      String release = null;
      if (existing != null && !existing.isSoftDeleted() && existing.isExpired(now)) {
        release = expire(entry, existing);
        existing = entry.getValue();
      }
      if (existing != null) {
        if (!existing.isSoftDeleted() && !existing.isOwnedBy(fence)) {
          return StreamReply.of(Outcome.STALE_OWNER).owner(existing.ownerEpoch(), existing.ownerNode()).build();
        }
        return existing.compareCreate(spec).toBuilder().releaseSource(release).build();
      }
      StreamReply unknown = release == null ? absent(entry) : null;
      if (unknown != null) {
        return unknown;
      }
      if (probe) {
        return StreamReply.of(Outcome.ABSENT).releaseSource(release).build();
      }
      StreamLog log = StreamLog.create(entry.getKey(), spec, inherited, inheritedStart, limits, incarnation,
          fence.next(fence.token()), node, now);
      if (forkIndex >= 0) {
        log.recordForkPoint(forkIndex);
      }
      replicate(entry, log, new Put(log));
      return log.describe(Outcome.CREATED).releaseSource(release).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      spec.writeTo(out);
      out.writeByteList(inherited);
      Offset.write(out, inheritedStart);
      out.writeLong(forkIndex);
      out.writeInt(limits.maxEvents());
      out.writeLong(limits.maxBytes());
      out.writeLong(incarnation);
      fence.writeTo(out);
      out.writeString(node);
      out.writeLong(now);
      out.writeBoolean(probe);
    }

    static Create readFrom(WireInput in) {
      return new Create(CreateSpec.readFrom(in), in.readByteList(), Offset.read(in), in.readLong(),
          new RingLimits(in.readInt(), in.readLong()), in.readLong(), Fence.readFrom(in), in.readString(),
          in.readLong(), in.readBoolean());
    }
  }

  // ------------------------------------------------------------------------------------------ append

  /** POST: one append (or close) validated and applied atomically with the producer state. */
  public static final class Append extends Primary {
    static final int WIRE_TYPE = 112;
    final AppendSpec spec;
    final Fence fence;
    final long now;
    /** The owner's number for this append ({@link OwnerAppends}); 0 from an older node: not recorded. */
    final long seq;

    public Append(AppendSpec spec, Fence fence, long now, long seq) {
      this.spec = spec;
      this.fence = fence;
      this.now = now;
      this.seq = seq;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, fence, now, true);
      if (refused != null) {
        return refused;
      }
      return append(entry, entry.getValue());
    }

    final StreamReply append(Map.Entry<String, StreamLog> entry, StreamLog log) {
      StreamLog.Applied applied = log.append(spec, now, fence.token(), seq);
      if (applied.effect() != null) {
        replicate(entry, log, new ApplyAppend(applied.effect()));
      } else if (log.settings().hasTtl()) {
        // Refused writes still count as activity for the sliding TTL; kept on the primary only.
        log.touch(now);
      }
      return applied.reply();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      spec.writeTo(out);
      fence.writeTo(out);
      out.writeLong(now);
      out.writeLong(seq);
    }

    static Append readFrom(WireInput in) {
      return new Append(AppendSpec.readFrom(in), Fence.readFrom(in), in.readLong(), in.readLong());
    }
  }

  /**
   * An append sent again by its owner after Hazelcast could not say whether the first one was applied
   * (the member running it left, or its backup did not answer). The stream's record of the owner's
   * appends decides ({@link OwnerAppends}): found, it is answered with its original offset and the whole
   * stream is copied to the backup (which may lack it); certainly absent, it is applied now; otherwise
   * nothing changes and the answer is {@link Outcome#IN_DOUBT}. A wire type of its own, so that a node of
   * an older version, which keeps no such record, refuses it instead of applying it a second time.
   */
  public static final class AppendAgain extends Primary {
    static final int WIRE_TYPE = 124;
    private final Append append;

    public AppendAgain(AppendSpec spec, Fence fence, long now, long seq) {
      if (seq <= 0) {
        throw new IllegalArgumentException("only a numbered append can be sent again");
      }
      this.append = new Append(spec, fence, now, seq);
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, append.fence, append.now, true);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      OwnerAppends.Verdict verdict = log.ownerAppend(append.fence.token(), append.seq);
      if (verdict instanceof OwnerAppends.Applied applied) {
        StreamReply answer = log.alreadyApplied(applied.index(), append.spec);
        if (answer.outcome() == Outcome.APPENDED) {
          // The backup may be the copy that lacks it: the whole stream goes there.
          replicate(entry, log, new Put(log));
        }
        return answer;
      }
      if (verdict instanceof OwnerAppends.Unknown unknown) {
        return StreamReply.refusal(Outcome.IN_DOUBT, unknown.why());
      }
      return append.append(entry, log);
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      append.writeTo(out);
    }

    static AppendAgain readFrom(WireInput in) {
      Append append = Append.readFrom(in);
      return new AppendAgain(append.spec, append.fence, append.now, append.seq);
    }
  }

  // ------------------------------------------------------------------------------------------ read

  /**
   * GET / HEAD / subscribe: events from a start position, or metadata only ({@code maxBytes == 0}), up
   * to the owner's committed watermark {@code limit}: events past it may not be on the backup yet, and a
   * reader must never see an event that a failover could take back. Reads restart a sliding TTL
   * ({@code touch}); that access time stays on the primary (a failover restarts the idle clock, so a TTL
   * never fires early because of one).
   */
  public static final class Read extends Primary {
    static final int WIRE_TYPE = 113;
    private final ReadStart start;
    private final long maxBytes;
    private final long limit;
    private final Fence fence;
    private final long now;
    private final boolean touch;

    public Read(ReadStart start, long maxBytes, long limit, Fence fence, long now, boolean touch) {
      this.start = start;
      this.maxBytes = maxBytes;
      this.limit = limit;
      this.fence = fence;
      this.now = now;
      this.touch = touch;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, fence, now, false);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      if (touch) {
        log.touch(now);
      }
      if (maxBytes == 0) {
        return log.describe(Outcome.OK, limit).build();
      }
      return log.read(start, maxBytes, limit);
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeLong(start.wireIndex());
      out.writeLong(start.wireBytes());
      out.writeLong(maxBytes);
      out.writeLong(limit);
      fence.writeTo(out);
      out.writeLong(now);
      out.writeBoolean(touch);
    }

    static Read readFrom(WireInput in) {
      return new Read(ReadStart.fromWire(in.readLong(), in.readLong()), in.readLong(), in.readLong(),
          Fence.readFrom(in), in.readLong(), in.readBoolean());
    }
  }

  // ------------------------------------------------------------------------------------------ delete

  /** DELETE: removes the stream, or leaves a tombstone while forks reference it. */
  public static final class Delete extends Primary {
    static final int WIRE_TYPE = 114;
    private final Fence fence;
    private final long now;

    public Delete(Fence fence, long now) {
      this.fence = fence;
      this.now = now;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, fence, now, true);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      String source = log.forkSource();
      if (log.delete()) {
        remove(entry);
        return StreamReply.of(Outcome.DELETED).releaseSource(source).build();
      }
      replicate(entry, log, new ApplyHeader(log.header()));
      return StreamReply.of(Outcome.DELETED).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      fence.writeTo(out);
      out.writeLong(now);
    }

    static Delete readFrom(WireInput in) {
      return new Delete(Fence.readFrom(in), in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ forks

  /** Copies a fork's inherited data out of its source and takes a reference on the source. */
  public static final class ForkData extends Primary {
    static final int WIRE_TYPE = 115;
    private final ForkSpec fork;
    private final String contentType;
    private final long limit;
    private final Fence fence;
    private final long now;

    /** @param limit the source owner's committed watermark: a fork never inherits an unreplicated event */
    public ForkData(ForkSpec fork, String contentType, long limit, Fence fence, long now) {
      this.fork = fork;
      this.contentType = contentType;
      this.limit = limit;
      this.fence = fence;
      this.now = now;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, fence, now, true);
      if (refused != null) {
        return refused.outcome() == Outcome.SOFT_DELETED
            ? StreamReply.refusal(Outcome.CONFLICT_CONFIG, "fork source was deleted") : refused;
      }
      StreamLog log = entry.getValue();
      StreamReply data = log.forkData(fork, contentType, limit);
      if (data.outcome() == Outcome.OK) {
        log.addForkRef();
        log.touch(now);
        replicate(entry, log, new ApplyHeader(log.header()));
      }
      return data;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(fork.source());
      Offset.write(out, fork.offset());
      out.writeLong(fork.subOffset());
      out.writeString(contentType);
      out.writeLong(limit);
      fence.writeTo(out);
      out.writeLong(now);
    }

    static ForkData readFrom(WireInput in) {
      return new ForkData(new ForkSpec(in.readString(), Offset.read(in), in.readLong()), in.readString(),
          in.readLong(), Fence.readFrom(in), in.readLong());
    }
  }

  /**
   * Drops one fork reference. A tombstone whose last reference goes is removed, and its own source
   * is reported in {@link StreamReply#releaseSource()} so the release cascades up the chain.
   */
  public static final class ReleaseRef extends Primary {
    static final int WIRE_TYPE = 116;
    private final Fence fence;

    public ReleaseRef(Fence fence) {
      this.fence = fence;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply unguarded = guard(entry, true);
      if (unguarded != null) {
        return unguarded;
      }
      StreamLog log = entry.getValue();
      if (log == null) {
        StreamReply unknown = absent(entry);
        return unknown != null ? unknown : StreamReply.refusal(Outcome.NOT_FOUND, "stream not found");
      }
      if (!log.isOwnedBy(fence)) {
        return StreamReply.of(Outcome.STALE_OWNER).owner(log.ownerEpoch(), log.ownerNode()).build();
      }
      String source = log.forkSource();
      if (log.releaseForkRef()) {
        remove(entry);
        return StreamReply.of(Outcome.DELETED).releaseSource(source).build();
      }
      replicate(entry, log, new ApplyHeader(log.header()));
      return StreamReply.of(Outcome.OK).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      fence.writeTo(out);
    }

    static ReleaseRef readFrom(WireInput in) {
      return new ReleaseRef(Fence.readFrom(in));
    }
  }

  /** Expiry sweep: drops the stream if its TTL or Expires-At has passed (no ownership needed: time decides). */
  public static final class Expire extends Primary {
    static final int WIRE_TYPE = 117;
    private final long now;

    public Expire(long now) {
      this.now = now;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply unguarded = guard(entry, true);
      if (unguarded != null) {
        return unguarded;
      }
      StreamLog log = entry.getValue();
      if (log == null || !log.isExpired(now)) {
        return StreamReply.of(Outcome.OK).build();
      }
      String release = expire(entry, log);
      return StreamReply.of(Outcome.DELETED).releaseSource(release).owner(log.ownerEpoch(), log.ownerNode()).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeLong(now);
    }

    static Expire readFrom(WireInput in) {
      return new Expire(in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ replicate

  /**
   * Ships the whole stream to the backup copy and answers the events from {@code from}: once it
   * completes, every event up to the tail it reports is on both copies. The owner runs it after a write
   * whose backup was not acknowledged, before it lets anyone see past that write.
   */
  public static final class Replicate extends Primary {
    static final int WIRE_TYPE = 118;
    private final ReadStart from;
    private final Fence fence;
    private final long now;

    public Replicate(ReadStart from, Fence fence, long now) {
      this.from = from;
      this.fence = fence;
      this.now = now;
    }

    @Override
    StreamReply apply(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, fence, now, true);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      replicate(entry, log, new Put(log));
      return log.read(from, Long.MAX_VALUE);
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeLong(from.wireIndex());
      out.writeLong(from.wireBytes());
      fence.writeTo(out);
      out.writeLong(now);
    }

    static Replicate readFrom(WireInput in) {
      return new Replicate(ReadStart.fromWire(in.readLong(), in.readLong()), Fence.readFrom(in), in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ backups

  /** Base of the backup-side processors: they apply what the primary decided and replicate nothing further. */
  abstract static class Backup implements EntryProcessor<String, StreamLog, StreamReply>, WireMessage {
    @Override
    public final EntryProcessor<String, StreamLog, StreamReply> getBackupProcessor() {
      return null;
    }
  }

  /**
   * Backup side of an append: applies the effect decided on the primary, without re-validating, but only
   * at the position the primary applied it ({@link StreamLog#applyReplicated}). A missing copy or a copy
   * that is behind throws: the backup is then not acknowledged and the primary's write fails.
   */
  static final class ApplyAppend extends Backup {
    static final int WIRE_TYPE = 120;
    private final AppendEffect effect;

    ApplyAppend(AppendEffect effect) {
      this.effect = effect;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog log = entry.getValue();
      if (log == null) {
        throw new IllegalStateException("backup copy of " + entry.getKey() + " is missing; refused until resynchronised");
      }
      log.applyReplicated(effect);
      entry.setValue(log);
      return null;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      effect.writeTo(out);
    }

    static ApplyAppend readFrom(WireInput in) {
      return new ApplyAppend(AppendEffect.readFrom(in));
    }
  }

  /** Backup side of a create: the whole new state. */
  static final class Put extends Backup {
    static final int WIRE_TYPE = 121;
    private final StreamLog log;

    Put(StreamLog log) {
      this.log = log;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      entry.setValue(log);
      return null;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      log.writeTo(out);
    }

    static Put readFrom(WireInput in) {
      return new Put(StreamLog.readFrom(in));
    }
  }

  /** Backup side of a removal. */
  static final class Remove extends Backup {
    static final int WIRE_TYPE = 122;

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      entry.setValue(null);
      return null;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
    }

    static Remove readFrom(WireInput in) {
      return new Remove();
    }
  }

  /** Backup side of ownership, fork-reference and tombstone changes. */
  static final class ApplyHeader extends Backup {
    static final int WIRE_TYPE = 123;
    private final StreamHeader header;

    ApplyHeader(StreamHeader header) {
      this.header = header;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog log = entry.getValue();
      if (log == null) {
        throw new IllegalStateException("backup copy of " + entry.getKey() + " is missing; refused until resynchronised");
      }
      log.copyHeaderFrom(header);
      entry.setValue(log);
      return null;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      header.writeTo(out);
    }

    static ApplyHeader readFrom(WireInput in) {
      return new ApplyHeader(StreamHeader.readFrom(in));
    }
  }
}
