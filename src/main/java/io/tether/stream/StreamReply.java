package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

import java.util.List;

/**
 * The answer of a stream operation, produced inside the partition that holds the stream and relayed
 * unchanged to the node that holds the client connection. Fields that an outcome does not use are
 * {@code null}, empty, {@code false} or -1.
 *
 * @param outcome        what happened
 * @param detail         human-readable reason for a refusal
 * @param next           the stream tail after a write, or where a read ended
 * @param start          offset of the first returned event
 * @param earliest       oldest retained offset
 * @param events         returned payloads, consecutive from {@code start}
 * @param upToDate       the read reached the tail
 * @param closed         the stream is closed (and, for reads, the read reached the final offset)
 * @param settings       stream configuration
 * @param incarnation    random id of this incarnation of the stream (changes on delete and re-create)
 * @param producerEpoch  idempotent producer epoch (echoed, or the current one on a stale epoch)
 * @param producerSeq    highest accepted producer sequence
 * @param expectedSeq    on a sequence gap, the sequence the stream expected
 * @param receivedSeq    on a sequence gap, the sequence it received
 * @param ownerEpoch     the owner's fencing epoch after the operation
 * @param ownerNode      the node id of the current owner
 * @param releaseSource  a fork source whose reference must be released after this operation
 * @param previousOwner  on a claim, the node that owned the stream before (null for a new stream)
 */
public record StreamReply(
    Outcome outcome,
    String detail,
    Offset next,
    Offset start,
    Offset earliest,
    List<byte[]> events,
    boolean upToDate,
    boolean closed,
    StreamSettings settings,
    long incarnation,
    long producerEpoch,
    long producerSeq,
    long expectedSeq,
    long receivedSeq,
    long ownerEpoch,
    String ownerNode,
    String releaseSource,
    String previousOwner) implements WireMessage {

  public static final int WIRE_TYPE = 101;

  public StreamReply {
    events = events == null ? List.of() : events;
  }

  public static Builder of(Outcome outcome) {
    return new Builder(outcome);
  }

  public static StreamReply refusal(Outcome outcome, String detail) {
    return of(outcome).detail(detail).build();
  }

  public boolean isSuccess() {
    return switch (outcome) {
      case CREATED, EXISTS, APPENDED, DUPLICATE, OK, DELETED -> true;
      default -> false;
    };
  }

  public long eventBytes() {
    long total = 0;
    for (byte[] event : events) {
      total += event.length;
    }
    return total;
  }

  public Builder toBuilder() {
    Builder b = new Builder(outcome);
    b.detail = detail;
    b.next = next;
    b.start = start;
    b.earliest = earliest;
    b.events = events;
    b.upToDate = upToDate;
    b.closed = closed;
    b.settings = settings;
    b.incarnation = incarnation;
    b.producerEpoch = producerEpoch;
    b.producerSeq = producerSeq;
    b.expectedSeq = expectedSeq;
    b.receivedSeq = receivedSeq;
    b.ownerEpoch = ownerEpoch;
    b.ownerNode = ownerNode;
    b.releaseSource = releaseSource;
    b.previousOwner = previousOwner;
    return b;
  }

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeByte(outcome.ordinal());
    out.writeString(detail);
    Offset.write(out, next);
    Offset.write(out, start);
    Offset.write(out, earliest);
    out.writeByteList(events);
    out.writeBoolean(upToDate);
    out.writeBoolean(closed);
    StreamSettings.writeNullable(out, settings);
    out.writeLong(incarnation);
    out.writeLong(producerEpoch);
    out.writeLong(producerSeq);
    out.writeLong(expectedSeq);
    out.writeLong(receivedSeq);
    out.writeLong(ownerEpoch);
    out.writeString(ownerNode);
    out.writeString(releaseSource);
    out.writeString(previousOwner);
  }

  public static StreamReply readFrom(WireInput in) {
    return new StreamReply(
        Outcome.values()[in.readByte()],
        in.readString(),
        Offset.read(in),
        Offset.read(in),
        Offset.read(in),
        in.readByteList(),
        in.readBoolean(),
        in.readBoolean(),
        StreamSettings.readNullable(in),
        in.readLong(),
        in.readLong(),
        in.readLong(),
        in.readLong(),
        in.readLong(),
        in.readLong(),
        in.readString(),
        in.readString(),
        in.readString());
  }


  /** Mutable builder; every field not set keeps its "unused" value. */
  public static final class Builder {
    private final Outcome outcome;
    private String detail;
    private Offset next;
    private Offset start;
    private Offset earliest;
    private List<byte[]> events = List.of();
    private boolean upToDate;
    private boolean closed;
    private StreamSettings settings;
    private long incarnation = -1;
    private long producerEpoch = -1;
    private long producerSeq = -1;
    private long expectedSeq = -1;
    private long receivedSeq = -1;
    private long ownerEpoch = -1;
    private String ownerNode;
    private String releaseSource;
    private String previousOwner;

    private Builder(Outcome outcome) {
      this.outcome = outcome;
    }

    public Builder detail(String value) {
      detail = value;
      return this;
    }

    public Builder next(Offset value) {
      next = value;
      return this;
    }

    public Builder start(Offset value) {
      start = value;
      return this;
    }

    public Builder earliest(Offset value) {
      earliest = value;
      return this;
    }

    public Builder events(List<byte[]> value) {
      events = value;
      return this;
    }

    public Builder upToDate(boolean value) {
      upToDate = value;
      return this;
    }

    public Builder closed(boolean value) {
      closed = value;
      return this;
    }

    public Builder settings(StreamSettings value) {
      settings = value;
      return this;
    }

    public Builder incarnation(long value) {
      incarnation = value;
      return this;
    }

    public Builder producer(long epoch, long seq) {
      producerEpoch = epoch;
      producerSeq = seq;
      return this;
    }

    public Builder gap(long expected, long received) {
      expectedSeq = expected;
      receivedSeq = received;
      return this;
    }

    public Builder owner(long epoch, String node) {
      ownerEpoch = epoch;
      ownerNode = node;
      return this;
    }

    public Builder releaseSource(String value) {
      releaseSource = value;
      return this;
    }

    public Builder previousOwner(String value) {
      previousOwner = value;
      return this;
    }

    public StreamReply build() {
      return new StreamReply(outcome, detail, next, start, earliest, events, upToDate, closed, settings,
          incarnation, producerEpoch, producerSeq, expectedSeq, receivedSeq, ownerEpoch, ownerNode, releaseSource,
          previousOwner);
    }
  }
}
