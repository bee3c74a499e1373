package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/** The fields of a {@link StreamLog} that change without touching its data; replicated as a unit. */
record StreamHeader(long ownerEpoch, long ownerToken, String ownerNode, int forkRefs, boolean softDeleted, long lastAccessMillis,
                    long forkIndex) implements WireMessage {

  static final int WIRE_TYPE = 103;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeLong(ownerEpoch);
    out.writeLong(ownerToken);
    out.writeString(ownerNode);
    out.writeInt(forkRefs);
    out.writeBoolean(softDeleted);
    out.writeLong(lastAccessMillis);
    out.writeLong(forkIndex);
  }

  static StreamHeader readFrom(WireInput in) {
    return new StreamHeader(in.readLong(), in.readLong(), in.readString(), in.readInt(), in.readBoolean(), in.readLong(), in.readLong());
  }
}
