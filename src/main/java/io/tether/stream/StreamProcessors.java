package io.tether.stream;

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
 * <p>Every processor that acts for an owner carries the owner's fencing epoch; a mismatch answers
 * {@link Outcome#STALE_OWNER} and changes nothing.
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
  }

  /** Base of the primary-side processors: the backup processor is chosen by {@link #process}. */
  public abstract static class Primary implements EntryProcessor<String, StreamLog, StreamReply>, WireMessage {
    private transient EntryProcessor<String, StreamLog, StreamReply> backup;

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
    final StreamReply gate(Map.Entry<String, StreamLog> entry, long ownerEpoch, long now) {
      StreamLog log = entry.getValue();
      if (log == null) {
        return StreamReply.refusal(Outcome.NOT_FOUND, "stream not found");
      }
      if (log.isExpired(now)) {
        String release = expire(entry, log);
        return StreamReply.of(Outcome.NOT_FOUND).detail("stream expired").releaseSource(release).build();
      }
      if (log.isSoftDeleted()) {
        return StreamReply.refusal(Outcome.SOFT_DELETED, "stream was deleted");
      }
      if (!log.isOwnedBy(ownerEpoch)) {
        return StreamReply.of(Outcome.STALE_OWNER).detail("ownership moved").owner(log.ownerEpoch(), log.ownerNode()).build();
      }
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ claim

  /** Takes ownership of an existing stream with the next epoch; answers {@link Outcome#ABSENT} otherwise. */
  public static final class Claim extends Primary {
    static final int WIRE_TYPE = 110;
    private final String node;
    private final long now;

    public Claim(String node, long now) {
      this.node = node;
      this.now = now;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog log = entry.getValue();
      if (log == null) {
        return StreamReply.refusal(Outcome.ABSENT, "stream not found");
      }
      if (log.isExpired(now)) {
        String release = expire(entry, log);
        return StreamReply.of(Outcome.ABSENT).releaseSource(release).build();
      }
      String previous = log.ownerNode();
      log.claim(node, now);
      replicate(entry, log, new ApplyHeader(log.header()));
      return log.describe(Outcome.OK).previousOwner(previous).build();
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(node);
      out.writeLong(now);
    }

    static Claim readFrom(WireInput in) {
      return new Claim(in.readString(), in.readLong());
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
    private final long ownerEpoch;
    private final String node;
    private final long now;
    private final boolean probe;

    public Create(CreateSpec spec, List<byte[]> inherited, Offset inheritedStart, long forkIndex, RingLimits limits,
                  long incarnation, long ownerEpoch, String node, long now, boolean probe) {
      this.spec = spec;
      this.inherited = inherited == null ? List.of() : inherited;
      this.inheritedStart = inheritedStart;
      this.forkIndex = forkIndex;
      this.limits = limits;
      this.incarnation = incarnation;
      this.ownerEpoch = ownerEpoch;
      this.node = node;
      this.now = now;
      this.probe = probe;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog existing = entry.getValue();
      String release = null;
      if (existing != null && !existing.isSoftDeleted() && existing.isExpired(now)) {
        release = expire(entry, existing);
        existing = entry.getValue();
      }
      if (existing != null) {
        if (!existing.isSoftDeleted() && !existing.isOwnedBy(ownerEpoch)) {
          return StreamReply.of(Outcome.STALE_OWNER).owner(existing.ownerEpoch(), existing.ownerNode()).build();
        }
        return existing.compareCreate(spec).toBuilder().releaseSource(release).build();
      }
      if (probe) {
        return StreamReply.of(Outcome.ABSENT).releaseSource(release).build();
      }
      StreamLog log = StreamLog.create(entry.getKey(), spec, inherited, inheritedStart, limits, incarnation,
          ownerEpoch + 1, node, now);
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
      out.writeLong(ownerEpoch);
      out.writeString(node);
      out.writeLong(now);
      out.writeBoolean(probe);
    }

    static Create readFrom(WireInput in) {
      return new Create(CreateSpec.readFrom(in), in.readByteList(), Offset.read(in), in.readLong(),
          new RingLimits(in.readInt(), in.readLong()), in.readLong(), in.readLong(), in.readString(), in.readLong(),
          in.readBoolean());
    }
  }

  // ------------------------------------------------------------------------------------------ append

  /** POST: one append (or close) validated and applied atomically with the producer state. */
  public static final class Append extends Primary {
    static final int WIRE_TYPE = 112;
    private final AppendSpec spec;
    private final long ownerEpoch;
    private final long now;

    public Append(AppendSpec spec, long ownerEpoch, long now) {
      this.spec = spec;
      this.ownerEpoch = ownerEpoch;
      this.now = now;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, ownerEpoch, now);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      StreamLog.Applied applied = log.append(spec, now);
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
      out.writeLong(ownerEpoch);
      out.writeLong(now);
    }

    static Append readFrom(WireInput in) {
      return new Append(AppendSpec.readFrom(in), in.readLong(), in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ read

  /**
   * GET / HEAD / subscribe: events from a start position, or metadata only ({@code maxBytes == 0}).
   * Reads restart a sliding TTL ({@code touch}); that access time stays on the primary (a failover
   * restarts the idle clock, so a TTL never fires early because of one).
   */
  public static final class Read extends Primary {
    static final int WIRE_TYPE = 113;
    private final ReadStart start;
    private final long maxBytes;
    private final long ownerEpoch;
    private final long now;
    private final boolean touch;

    public Read(ReadStart start, long maxBytes, long ownerEpoch, long now, boolean touch) {
      this.start = start;
      this.maxBytes = maxBytes;
      this.ownerEpoch = ownerEpoch;
      this.now = now;
      this.touch = touch;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, ownerEpoch, now);
      if (refused != null) {
        return refused;
      }
      StreamLog log = entry.getValue();
      if (touch) {
        log.touch(now);
      }
      if (maxBytes == 0) {
        return log.describe(Outcome.OK).build();
      }
      return log.read(start, maxBytes);
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
      out.writeLong(ownerEpoch);
      out.writeLong(now);
      out.writeBoolean(touch);
    }

    static Read readFrom(WireInput in) {
      return new Read(ReadStart.fromWire(in.readLong(), in.readLong()), in.readLong(), in.readLong(), in.readLong(),
          in.readBoolean());
    }
  }

  // ------------------------------------------------------------------------------------------ delete

  /** DELETE: removes the stream, or leaves a tombstone while forks reference it. */
  public static final class Delete extends Primary {
    static final int WIRE_TYPE = 114;
    private final long ownerEpoch;
    private final long now;

    public Delete(long ownerEpoch, long now) {
      this.ownerEpoch = ownerEpoch;
      this.now = now;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, ownerEpoch, now);
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
      out.writeLong(ownerEpoch);
      out.writeLong(now);
    }

    static Delete readFrom(WireInput in) {
      return new Delete(in.readLong(), in.readLong());
    }
  }

  // ------------------------------------------------------------------------------------------ forks

  /** Copies a fork's inherited data out of its source and takes a reference on the source. */
  public static final class ForkData extends Primary {
    static final int WIRE_TYPE = 115;
    private final ForkSpec fork;
    private final String contentType;
    private final long ownerEpoch;
    private final long now;

    public ForkData(ForkSpec fork, String contentType, long ownerEpoch, long now) {
      this.fork = fork;
      this.contentType = contentType;
      this.ownerEpoch = ownerEpoch;
      this.now = now;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamReply refused = gate(entry, ownerEpoch, now);
      if (refused != null) {
        return refused.outcome() == Outcome.SOFT_DELETED
            ? StreamReply.refusal(Outcome.CONFLICT_CONFIG, "fork source was deleted") : refused;
      }
      StreamLog log = entry.getValue();
      StreamReply data = log.forkData(fork, contentType);
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
      out.writeLong(ownerEpoch);
      out.writeLong(now);
    }

    static ForkData readFrom(WireInput in) {
      return new ForkData(new ForkSpec(in.readString(), Offset.read(in), in.readLong()), in.readString(),
          in.readLong(), in.readLong());
    }
  }

  /**
   * Drops one fork reference. A tombstone whose last reference goes is removed, and its own source
   * is reported in {@link StreamReply#releaseSource()} so the release cascades up the chain.
   */
  public static final class ReleaseRef extends Primary {
    static final int WIRE_TYPE = 116;
    private final long ownerEpoch;

    public ReleaseRef(long ownerEpoch) {
      this.ownerEpoch = ownerEpoch;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog log = entry.getValue();
      if (log == null) {
        return StreamReply.refusal(Outcome.NOT_FOUND, "stream not found");
      }
      if (!log.isOwnedBy(ownerEpoch)) {
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
      out.writeLong(ownerEpoch);
    }

    static ReleaseRef readFrom(WireInput in) {
      return new ReleaseRef(in.readLong());
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
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
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

  // ------------------------------------------------------------------------------------------ backups

  /** Base of the backup-side processors: they apply what the primary decided and replicate nothing further. */
  abstract static class Backup implements EntryProcessor<String, StreamLog, StreamReply>, WireMessage {
    @Override
    public final EntryProcessor<String, StreamLog, StreamReply> getBackupProcessor() {
      return null;
    }
  }

  /** Backup side of an append: applies the effect decided on the primary, without re-validating. */
  static final class ApplyAppend extends Backup {
    static final int WIRE_TYPE = 120;
    private final AppendEffect effect;

    ApplyAppend(AppendEffect effect) {
      this.effect = effect;
    }

    @Override
    public StreamReply process(Map.Entry<String, StreamLog> entry) {
      StreamLog log = entry.getValue();
      if (log != null) {
        log.apply(effect);
        entry.setValue(log);
      }
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
      if (log != null) {
        log.copyHeaderFrom(header);
        entry.setValue(log);
      }
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
