package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The replicated state of one stream: configuration, the bounded ring of events, writer state
 * (idempotent producers, {@code Stream-Seq}), closure, fork bookkeeping and the ownership fence.
 *
 * <p>This is the value of the Hazelcast map entry keyed by the stream name. It is only ever touched
 * inside entry processors on the partition thread that owns the key, so it needs no locking, and
 * every decision here is made against the authoritative copy. The methods are pure functions of the
 * state and their arguments (the clock is passed in), which keeps them testable without a cluster.
 *
 * <p>Producer state and the appended event change in the same entry-processor step, so a
 * de-duplication decision can never disagree with the data (protocol section 5.2.1, atomicity).
 */
public final class StreamLog implements WireMessage {

  public static final int WIRE_TYPE = 100;

  /**
   * Producers remembered per stream, by count and by bytes (ids plus a fixed cost each); the least
   * recently used are forgotten beyond either. A forgotten producer that comes back with a sequence
   * number above 0 is told to start from 0 again (a sequence gap), never silently appended twice.
   */
  static final int MAX_PRODUCERS = 1024;
  static final long MAX_PRODUCER_BYTES = 64 * 1024;
  /** What one remembered producer costs besides its id: epoch, sequence, time, map entry. */
  static final int PRODUCER_OVERHEAD_BYTES = 64;

  private String name;
  private long incarnation;
  private StreamSettings settings;
  private boolean closed;
  private String closedByProducer;
  private long closedByEpoch = -1;
  private long closedBySeq = -1;
  private String forkSource;
  private long forkIndex = -1;
  private long forkSubOffset;
  private int forkRefs;
  private boolean softDeleted;
  private long lastAccessMillis;
  private Ring ring;
  private String lastStreamSeq;
  private final LinkedHashMap<String, ProducerState> producers = new LinkedHashMap<>(4, 0.75f, true);
  private long ownerEpoch;
  private long ownerToken;
  /** The owner's recent appends by its own sequence number (see {@link OwnerAppends}). */
  private OwnerAppends ownerAppends = OwnerAppends.startingAt(0);
  private String ownerNode;

  private StreamLog() {
  }

  /**
   * A new stream. For a fork, {@code inherited} holds the copied source events starting at
   * {@code inheritedStart}; the initial events of the request follow them.
   */
  public static StreamLog create(String name, CreateSpec spec, List<byte[]> inherited, Offset inheritedStart,
                                 RingLimits limits, long incarnation, Fence owner, String ownerNode, long now) {
    StreamLog log = new StreamLog();
    log.name = name;
    log.incarnation = incarnation;
    log.settings = spec.settings();
    log.lastAccessMillis = now;
    log.ring = new Ring(limits.maxEvents(), limits.maxBytes(), inheritedStart == null ? Offset.ZERO : inheritedStart);
    for (byte[] event : inherited) {
      log.ring.append(event);
    }
    if (spec.fork() != null) {
      log.forkSource = spec.fork().source();
      log.forkIndex = spec.fork().offset() == null ? -1 : spec.fork().offset().index();
      log.forkSubOffset = spec.fork().subOffset();
    }
    for (byte[] event : spec.initialEvents()) {
      if (event.length > 0) {
        log.ring.append(event);
      }
    }
    log.closed = spec.closed();
    log.ownerEpoch = owner.epoch();
    log.ownerToken = owner.token();
    log.ownerNode = ownerNode;
    log.ownerAppends = OwnerAppends.startingAt(log.ring.tail().index());
    return log;
  }

  // ---------------------------------------------------------------- accessors

  public String name() {
    return name;
  }

  public long incarnation() {
    return incarnation;
  }

  public StreamSettings settings() {
    return settings;
  }

  public boolean isClosed() {
    return closed;
  }

  public boolean isSoftDeleted() {
    return softDeleted;
  }

  public int forkRefs() {
    return forkRefs;
  }

  public String forkSource() {
    return forkSource;
  }

  public long ownerEpoch() {
    return ownerEpoch;
  }

  public String ownerNode() {
    return ownerNode;
  }

  public Offset tail() {
    return ring.tail();
  }

  public Offset earliest() {
    return ring.first();
  }

  public int retainedEvents() {
    return ring.size();
  }

  public long retainedBytes() {
    return ring.retainedBytes();
  }

  public long lastAccessMillis() {
    return lastAccessMillis;
  }

  /**
   * When this stream expires, in epoch milliseconds, or {@link Long#MAX_VALUE}. Read by the expiry
   * sweeper's map query (attribute {@code deadlineMillis}).
   */
  public long getDeadlineMillis() {
    if (softDeleted) {
      return Long.MAX_VALUE;
    }
    long deadline = Long.MAX_VALUE;
    if (settings.hasExpiresAt()) {
      deadline = settings.expiresAtMillis();
    }
    if (settings.hasTtl()) {
      deadline = Math.min(deadline, lastAccessMillis + settings.ttlSeconds() * 1000L);
    }
    return deadline;
  }

  public boolean isExpired(long now) {
    return now >= getDeadlineMillis();
  }

  // ---------------------------------------------------------------- ownership

  /**
   * Makes {@code node} the owner with the next epoch and the claimant's {@code token}. A failover also
   * restarts the idle clock.
   */
  public Fence claim(String node, long token, long now) {
    ownerEpoch++;
    ownerToken = token;
    ownerNode = node;
    lastAccessMillis = Math.max(lastAccessMillis, now);
    return fence();
  }

  /** The current owner's fence. */
  public Fence fence() {
    return new Fence(ownerEpoch, ownerToken);
  }

  /** Whether {@code fence} is the current owner's: same epoch and same claim. */
  public boolean isOwnedBy(Fence fence) {
    return ownerEpoch == fence.epoch() && ownerToken == fence.token();
  }

  // ---------------------------------------------------------------- create

  /**
   * Outcome of a PUT against this existing stream: {@link Outcome#EXISTS} when the configuration
   * matches (protocol section 5.1), else a conflict.
   */
  public StreamReply compareCreate(CreateSpec spec) {
    if (softDeleted) {
      return StreamReply.refusal(Outcome.CONFLICT_CONFIG, "stream was deleted and is still referenced by forks");
    }
    boolean same = spec.closed() == closed && sameFork(spec.fork());
    StreamSettings wanted = spec.settings();
    if (spec.fork() != null && wanted.contentType() == null) {
      wanted = wanted.withContentType(settings.contentType());
    }
    if (spec.fork() != null && !wanted.hasTtl() && !wanted.hasExpiresAt()) {
      wanted = new StreamSettings(wanted.contentType(), settings.ttlSeconds(), settings.expiresAtMillis());
    }
    same = same && wanted.sameAs(settings);
    if (!same) {
      return StreamReply.refusal(Outcome.CONFLICT_CONFIG, "stream exists with a different configuration");
    }
    return describe(Outcome.EXISTS).build();
  }

  private boolean sameFork(ForkSpec fork) {
    if (fork == null) {
      return forkSource == null;
    }
    if (!fork.source().equals(forkSource) || fork.subOffset() != forkSubOffset) {
      return false;
    }
    // An omitted fork offset means "the source head at creation": any existing fork of that source matches.
    return fork.offset() == null || fork.offset().index() == forkIndex;
  }

  /** Records the resolved fork point (the source head when the request named none). */
  public void recordForkPoint(long index) {
    this.forkIndex = index;
  }

  // ---------------------------------------------------------------- append

  /**
   * Validates an append against the current state and, when accepted, applies it. Checks follow the
   * protocol's precedence: stale producer epoch, closed stream, content type, producer sequence,
   * {@code Stream-Seq}.
   *
   * @return the reply and, when the state changed, the effect to replay on the backup
   */
  public Applied append(AppendSpec spec, long now) {
    return append(spec, now, 0, 0);
  }

  /**
   * {@link #append(AppendSpec, long)} for the owner with claim token {@code ownerToken}, as its append
   * number {@code ownerSeq} (0: none): recorded in {@link OwnerAppends}, and answered as applied, without
   * applying it again, when that record has it already (an append the owner sent again that arrived
   * after its original after all).
   */
  public Applied append(AppendSpec spec, long now, long ownerToken, long ownerSeq) {
    if (ownerSeq > 0 && ownerAppend(ownerToken, ownerSeq) instanceof OwnerAppends.Applied done) {
      return Applied.refused(alreadyApplied(done.index(), spec));
    }
    ProducerHeaders producer = spec.producer();
    ProducerState state = producer == null ? null : producers.get(producer.id());

    if (producer != null && state != null && producer.epoch() < state.epoch) {
      return Applied.refused(StreamReply.of(Outcome.PRODUCER_STALE_EPOCH)
          .detail("producer epoch " + producer.epoch() + " is older than " + state.epoch)
          .producer(state.epoch, state.lastSeq).next(ring.tail()).closed(closed).build());
    }
    if (closed) {
      boolean sameCloser = producer != null && producer.id().equals(closedByProducer)
          && producer.epoch() == closedByEpoch && producer.seq() == closedBySeq;
      if (sameCloser || (producer == null && !spec.hasData() && spec.close())) {
        StreamReply.Builder reply = describe(Outcome.DUPLICATE);
        if (sameCloser) {
          reply.producer(closedByEpoch, closedBySeq);
        }
        return Applied.refused(reply.build());
      }
      return Applied.refused(StreamReply.of(Outcome.CONFLICT_CLOSED).detail("stream is closed")
          .next(ring.tail()).closed(true).build());
    }
    if (spec.hasData() && !ContentTypes.sameMediaType(spec.contentType(), settings.contentType())) {
      return Applied.refused(StreamReply.refusal(Outcome.CONFLICT_CONTENT_TYPE,
          "content type " + ContentTypes.mediaType(spec.contentType()) + " does not match the stream's "
              + ContentTypes.mediaType(settings.contentType())));
    }
    if (producer != null) {
      if (state != null && producer.epoch() == state.epoch && producer.seq() <= state.lastSeq) {
        return Applied.refused(describe(Outcome.DUPLICATE).producer(state.epoch, state.lastSeq).build());
      }
      if (state == null && producer.seq() != 0) {
        // An unknown producer whose first request overtook its predecessors (pipelined requests take
        // different paths to the owner), or one this stream has forgotten: the producer sends from 0
        // again, as the protocol's reference server asks with the same answer.
        return Applied.refused(StreamReply.of(Outcome.PRODUCER_SEQ_GAP)
            .detail("producer sequence gap").gap(0, producer.seq()).build());
      }
      boolean newEpoch = state == null || producer.epoch() > state.epoch;
      if (newEpoch && producer.seq() != 0) {
        return Applied.refused(StreamReply.refusal(Outcome.BAD_REQUEST,
            "a new producer epoch must start at Producer-Seq 0"));
      }
      if (!newEpoch && producer.seq() > state.lastSeq + 1) {
        return Applied.refused(StreamReply.of(Outcome.PRODUCER_SEQ_GAP)
            .detail("producer sequence gap").gap(state.lastSeq + 1, producer.seq()).build());
      }
    }
    if (spec.streamSeq() != null && lastStreamSeq != null && compareBytes(spec.streamSeq(), lastStreamSeq) <= 0) {
      return Applied.refused(StreamReply.refusal(Outcome.CONFLICT_SEQ,
          "Stream-Seq must be greater than the last one"));
    }

    AppendEffect effect = new AppendEffect(spec.payload(),
        producer == null ? null : producer.id(),
        producer == null ? -1 : producer.epoch(),
        producer == null ? -1 : producer.seq(),
        spec.streamSeq(), spec.close(), now, ring.tail().index(), ownerToken, ownerSeq);
    Offset at = apply(effect);
    StreamReply.Builder reply = describe(Outcome.APPENDED).start(at);
    if (producer != null) {
      reply.producer(producer.epoch(), producer.seq());
    }
    return new Applied(reply.build(), effect);
  }

  /**
   * Applies an append decided on the primary to this backup copy, after checking that the copy is where
   * the primary was: the effect's {@code atIndex} equals this tail. A copy already past it received the
   * effect inside a full copy of the stream and skips it; a copy behind it missed a change, and applying
   * this one would shift every later offset, so it is refused.
   *
   * @throws ReplicaGap when this copy is behind the primary
   */
  public void applyReplicated(AppendEffect effect) {
    long tail = ring.tail().index();
    if (tail > effect.atIndex()) {
      return;
    }
    if (tail < effect.atIndex()) {
      throw new ReplicaGap(name, tail, effect.atIndex());
    }
    apply(effect);
  }

  /** A backup copy that is behind the change it was sent; the primary's write is not acknowledged. */
  public static final class ReplicaGap extends IllegalStateException {
    public ReplicaGap(String stream, long tail, long expected) {
      super("backup copy of " + stream + " is at index " + tail + ", the change was made at " + expected
          + "; refused until the copy is resynchronised");
    }
  }

  /**
   * What the owner {@code ownerToken}'s append {@code ownerSeq}, sent again, finds: applied (at its
   * offset), absent, or unknown (see {@link OwnerAppends}).
   */
  public OwnerAppends.Verdict ownerAppend(long ownerToken, long ownerSeq) {
    return ownerAppends.verdict(ownerToken, ownerSeq, ring.tail().index());
  }

  /**
   * Where the retained event at {@code index} starts (the tail itself for a close without data);
   * {@code null} when it is not retained.
   */
  private Offset offsetOf(long index) {
    if (index < ring.first().index() || index > ring.tail().index()) {
      return null;
    }
    return new Offset(index, ring.bytesAt(index));
  }

  /**
   * The answer to {@code spec}, found applied already as the event at {@code index}: as its first answer,
   * with today's tail; {@link Outcome#IN_DOUBT} when that event has left the retained window (its offset
   * cannot be given, and the writer must not be told it failed).
   */
  public StreamReply alreadyApplied(long index, AppendSpec spec) {
    Offset at = offsetOf(index);
    if (at == null) {
      return StreamReply.refusal(Outcome.IN_DOUBT, "applied, but its event has left the stream's retention");
    }
    StreamReply.Builder reply = describe(Outcome.APPENDED).start(at);
    if (spec.producer() != null) {
      reply.producer(spec.producer().epoch(), spec.producer().seq());
    }
    return reply.build();
  }

  /** Applies an accepted append; returns the offset of the new event (the tail for close-only). */
  public Offset apply(AppendEffect effect) {
    Offset at = ring.tail();
    long tailBefore = at.index();
    if (effect.payload().length > 0) {
      at = ring.append(effect.payload());
    }
    if (effect.ownerSeq() > 0) {
      ownerAppends.record(effect.ownerToken(), effect.ownerSeq(), tailBefore, at.index(), ring.tail().index());
    }
    if (effect.producerId() != null) {
      ProducerState state = producers.get(effect.producerId());
      if (state == null) {
        producers.put(effect.producerId(), new ProducerState(effect.producerEpoch(), effect.producerSeq(), effect.nowMillis()));
        trimProducers();
      } else {
        state.epoch = effect.producerEpoch();
        state.lastSeq = effect.producerSeq();
        state.touchedMillis = effect.nowMillis();
      }
    }
    if (effect.streamSeq() != null) {
      lastStreamSeq = effect.streamSeq();
    }
    if (effect.close()) {
      closed = true;
      closedByProducer = effect.producerId();
      closedByEpoch = effect.producerEpoch();
      closedBySeq = effect.producerSeq();
    }
    lastAccessMillis = Math.max(lastAccessMillis, effect.nowMillis());
    return at;
  }

  private void trimProducers() {
    long bytes = producerBytes();
    Iterator<Map.Entry<String, ProducerState>> it = producers.entrySet().iterator();
    while ((producers.size() > MAX_PRODUCERS || bytes > MAX_PRODUCER_BYTES) && it.hasNext()) {
      bytes -= producerCost(it.next().getKey());
      it.remove();
    }
  }

  /** Bytes the remembered producers count for against {@link #MAX_PRODUCER_BYTES}. */
  long producerBytes() {
    long bytes = 0;
    for (String id : producers.keySet()) {
      bytes += producerCost(id);
    }
    return bytes;
  }

  private static long producerCost(String id) {
    return id.length() * 3L + PRODUCER_OVERHEAD_BYTES;
  }

  /** Byte-wise comparison of the UTF-8 encodings, as the protocol defines for {@code Stream-Seq}. */
  static int compareBytes(String a, String b) {
    return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  // ---------------------------------------------------------------- read

  /** Events from {@code start}, at most {@code maxBytes}, with no visibility limit (tests, forks of the whole ring). */
  public StreamReply read(ReadStart start, long maxBytes) {
    return read(start, maxBytes, Long.MAX_VALUE);
  }

  /**
   * Events from {@code start}, at most {@code maxBytes} (at least one event when any exists), and none at
   * or past index {@code limit}: the owner's committed watermark, below which every event is known to sit
   * on the backup too. Past it the stream reads as if its tail were at the limit.
   * {@code Stream-Closed} is reported only when the read reaches the final offset of a closed stream.
   */
  public StreamReply read(ReadStart start, long maxBytes, long limit) {
    Offset tail = visibleTail(limit);
    Offset from;
    if (start instanceof ReadStart.Now) {
      from = tail;
    } else if (start instanceof ReadStart.Beginning) {
      from = ring.first();
      if (from.index() > 0) {
        return StreamReply.of(Outcome.OFFSET_GONE).detail("the beginning of the stream is no longer retained")
            .earliest(ring.first()).next(tail).build();
      }
    } else {
      long index = ((ReadStart.At) start).offset().index();
      if (index < ring.first().index()) {
        return StreamReply.of(Outcome.OFFSET_GONE).detail("offset is older than the retained events")
            .earliest(ring.first()).next(tail).build();
      }
      if (index > tail.index()) {
        return StreamReply.of(Outcome.OFFSET_FUTURE).detail("offset is beyond the tail of the stream")
            .next(tail).build();
      }
      from = index == tail.index() ? tail : new Offset(index, ring.bytesAt(index));
    }
    List<byte[]> events = from.index() < tail.index()
        ? ring.slice(from.index(), maxBytes, tail.index()) : List.of();
    long endIndex = from.index() + events.size();
    long endBytes = from.bytes();
    for (byte[] event : events) {
      endBytes += event.length;
    }
    boolean upToDate = endIndex == tail.index();
    boolean atRealTail = endIndex == ring.tail().index();
    return StreamReply.of(Outcome.OK)
        .start(from)
        .next(new Offset(endIndex, endBytes))
        .earliest(ring.first())
        .events(events)
        .upToDate(upToDate)
        .closed(closed && atRealTail)
        .settings(settings)
        .incarnation(incarnation)
        .owner(ownerEpoch, ownerNode)
        .build();
  }

  /** The tail as seen through a visibility {@code limit} (an index): the real tail when it is below it. */
  public Offset visibleTail(long limit) {
    Offset tail = ring.tail();
    if (limit >= tail.index()) {
      return tail;
    }
    long index = Math.max(limit, ring.first().index());
    return new Offset(index, ring.bytesAt(index));
  }

  /** Sliding TTL: reads and writes restart the idle clock (HEAD does not). */
  public void touch(long now) {
    lastAccessMillis = Math.max(lastAccessMillis, now);
  }

  /** Metadata reply: tail, closure, settings, owner. */
  public StreamReply.Builder describe(Outcome outcome) {
    return describe(outcome, Long.MAX_VALUE);
  }

  /** Metadata reply as seen through a visibility {@code limit} (see {@link #read(ReadStart, long, long)}). */
  public StreamReply.Builder describe(Outcome outcome, long limit) {
    Offset tail = visibleTail(limit);
    return StreamReply.of(outcome)
        .next(tail)
        .earliest(ring.first())
        .closed(closed && tail.equals(ring.tail()))
        .settings(settings)
        .incarnation(incarnation)
        .owner(ownerEpoch, ownerNode);
  }

  // ---------------------------------------------------------------- forks

  /**
   * Copies the data a new fork inherits: retained events up to {@code fork.offset()} (the tail when
   * absent) plus the prefix of the event at that offset selected by the sub-offset. Does not take the
   * reference; the caller increments {@link #forkRefs} once the fork exists.
   */
  public StreamReply forkData(ForkSpec fork, String requestedContentType) {
    return forkData(fork, requestedContentType, Long.MAX_VALUE);
  }

  /** {@link #forkData(ForkSpec, String)} as seen through a visibility {@code limit} (an index). */
  public StreamReply forkData(ForkSpec fork, String requestedContentType, long limit) {
    Offset tail = visibleTail(limit);
    if (softDeleted) {
      return StreamReply.refusal(Outcome.CONFLICT_CONFIG, "fork source was deleted");
    }
    if (requestedContentType != null && !ContentTypes.sameMediaType(requestedContentType, settings.contentType())) {
      return StreamReply.refusal(Outcome.CONFLICT_CONTENT_TYPE, "fork content type differs from the source's");
    }
    long index = fork.offset() == null ? tail.index() : fork.offset().index();
    if (index > tail.index()) {
      return StreamReply.refusal(Outcome.BAD_REQUEST, "Stream-Fork-Offset is beyond the source's tail");
    }
    if (index < ring.first().index()) {
      return StreamReply.of(Outcome.OFFSET_GONE).detail("fork offset is older than the source retains")
          .earliest(ring.first()).build();
    }
    List<byte[]> events = new ArrayList<>();
    for (long i = ring.first().index(); i < index; i++) {
      events.add(ring.get(i));
    }
    if (fork.subOffset() > 0) {
      if (index == tail.index()) {
        return StreamReply.refusal(Outcome.BAD_REQUEST, "Stream-Fork-Sub-Offset points past the source's data");
      }
      byte[] anchor = ring.get(index);
      byte[] prefix;
      if (ContentTypes.isJson(settings.contentType())) {
        List<byte[]> messages = JsonBatch.messagesOf(anchor);
        if (fork.subOffset() > messages.size()) {
          return StreamReply.refusal(Outcome.BAD_REQUEST, "Stream-Fork-Sub-Offset exceeds the message count");
        }
        prefix = JsonBatch.join(messages.subList(0, (int) fork.subOffset()));
      } else {
        if (fork.subOffset() > anchor.length) {
          return StreamReply.refusal(Outcome.BAD_REQUEST, "Stream-Fork-Sub-Offset exceeds the event length");
        }
        prefix = Arrays.copyOf(anchor, (int) fork.subOffset());
      }
      events.add(prefix);
    }
    return StreamReply.of(Outcome.OK)
        .start(ring.first())
        .next(new Offset(index, index == tail.index() ? tail.bytes() : ring.bytesAt(index)))
        .events(events)
        .settings(settings)
        .build();
  }

  public void addForkRef() {
    forkRefs++;
  }

  /** Drops one fork reference; returns whether the stream may now be removed (soft-deleted, unreferenced). */
  public boolean releaseForkRef() {
    if (forkRefs > 0) {
      forkRefs--;
    }
    return softDeleted && forkRefs == 0;
  }

  /**
   * Deletes the stream: a stream referenced by forks becomes a tombstone (410 for clients, its data
   * dropped since forks hold copies); otherwise the caller removes the entry.
   *
   * @return whether the entry must be removed
   */
  public boolean delete() {
    if (forkRefs > 0) {
      softDeleted = true;
      ring.clear();
      producers.clear();
      return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- wire

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(name);
    out.writeLong(incarnation);
    settings.writeTo(out);
    out.writeBoolean(closed);
    out.writeString(closedByProducer);
    out.writeLong(closedByEpoch);
    out.writeLong(closedBySeq);
    out.writeString(forkSource);
    out.writeLong(forkIndex);
    out.writeLong(forkSubOffset);
    out.writeInt(forkRefs);
    out.writeBoolean(softDeleted);
    out.writeLong(lastAccessMillis);
    ring.writeTo(out);
    out.writeString(lastStreamSeq);
    out.writeInt(producers.size());
    for (Map.Entry<String, ProducerState> e : producers.entrySet()) {
      out.writeString(e.getKey());
      out.writeLong(e.getValue().epoch);
      out.writeLong(e.getValue().lastSeq);
      out.writeLong(e.getValue().touchedMillis);
    }
    out.writeLong(ownerEpoch);
    out.writeLong(ownerToken);
    out.writeString(ownerNode);
    ownerAppends.writeTo(out);
  }

  public static StreamLog readFrom(WireInput in) {
    StreamLog log = new StreamLog();
    log.name = in.readString();
    log.incarnation = in.readLong();
    log.settings = StreamSettings.readFrom(in);
    log.closed = in.readBoolean();
    log.closedByProducer = in.readString();
    log.closedByEpoch = in.readLong();
    log.closedBySeq = in.readLong();
    log.forkSource = in.readString();
    log.forkIndex = in.readLong();
    log.forkSubOffset = in.readLong();
    log.forkRefs = in.readInt();
    log.softDeleted = in.readBoolean();
    log.lastAccessMillis = in.readLong();
    log.ring = Ring.readFrom(in);
    log.lastStreamSeq = in.readString();
    int producers = in.readInt();
    for (int i = 0; i < producers; i++) {
      log.producers.put(in.readString(), new ProducerState(in.readLong(), in.readLong(), in.readLong()));
    }
    log.ownerEpoch = in.readLong();
    log.ownerToken = in.readLong();
    log.ownerNode = in.readString();
    log.ownerAppends = OwnerAppends.readFrom(in);
    return log;
  }

  /** Copies the non-data fields (ownership, fork bookkeeping, closure, access time) from the primary. */
  void copyHeaderFrom(StreamHeader header) {
    ownerEpoch = header.ownerEpoch();
    ownerToken = header.ownerToken();
    ownerNode = header.ownerNode();
    forkRefs = header.forkRefs();
    if (header.softDeleted() && !softDeleted) {
      ring.clear();
      producers.clear();
    }
    softDeleted = header.softDeleted();
    lastAccessMillis = header.lastAccessMillis();
    forkIndex = header.forkIndex();
  }

  StreamHeader header() {
    return new StreamHeader(ownerEpoch, ownerToken, ownerNode, forkRefs, softDeleted, lastAccessMillis, forkIndex);
  }

  /** Result of {@link #append}: the reply and, when the state changed, the effect to replicate. */
  public record Applied(StreamReply reply, AppendEffect effect) {
    static Applied refused(StreamReply reply) {
      return new Applied(reply, null);
    }
  }
}
