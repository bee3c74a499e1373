package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/**
 * The state change of an accepted append, decided on the primary and applied unchanged to the backup
 * replica: the backup never re-validates, so it cannot disagree with what the producer was told.
 *
 * @param payload      event payload, empty for close-only
 * @param producerId   producer whose state advances, or {@code null}
 * @param producerEpoch its epoch
 * @param producerSeq  its new last sequence
 * @param streamSeq    new last {@code Stream-Seq}, or {@code null}
 * @param close        whether the stream becomes closed
 * @param nowMillis    access time
 * @param atIndex      the tail index the primary applied it at: a backup whose tail differs did not
 *                     receive every earlier change and must not apply this one blind
 * @param ownerToken   claim token of the owner that sent the append (0 when {@code ownerSeq} is 0)
 * @param ownerSeq     that owner's number for the append, recorded in {@link OwnerAppends}; 0: none
 */
public record AppendEffect(byte[] payload, String producerId, long producerEpoch, long producerSeq,
                           String streamSeq, boolean close, long nowMillis, long atIndex,
                           long ownerToken, long ownerSeq) implements WireMessage {

  /** An effect that no owner numbered (an older node's, or one applied outside an owner). */
  public AppendEffect(byte[] payload, String producerId, long producerEpoch, long producerSeq,
                      String streamSeq, boolean close, long nowMillis, long atIndex) {
    this(payload, producerId, producerEpoch, producerSeq, streamSeq, close, nowMillis, atIndex, 0, 0);
  }

  public static final int WIRE_TYPE = 102;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeBytes(payload);
    out.writeString(producerId);
    out.writeLong(producerEpoch);
    out.writeLong(producerSeq);
    out.writeString(streamSeq);
    out.writeBoolean(close);
    out.writeLong(nowMillis);
    out.writeLong(atIndex);
    out.writeLong(ownerToken);
    out.writeLong(ownerSeq);
  }

  public static AppendEffect readFrom(WireInput in) {
    return new AppendEffect(in.readBytes(), in.readString(), in.readLong(), in.readLong(), in.readString(),
        in.readBoolean(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
  }
}
