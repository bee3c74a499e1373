package io.tether.cluster.owner;

import io.tether.cluster.NodeIdentity;
import io.tether.cluster.routing.StreamRequest;
import io.tether.stream.Offset;
import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/** Answer to {@link StreamRequest.Describe}: the owner, its fencing epoch and the retained range. */
public record OwnerInfo(NodeIdentity owner, long epoch, Offset first, Offset next, int subscriptions)
    implements WireMessage {

  public static final int WIRE_TYPE = 220;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    owner.writeTo(out);
    out.writeLong(epoch);
    Offset.write(out, first);
    Offset.write(out, next);
    out.writeInt(subscriptions);
  }

  public static OwnerInfo readFrom(WireInput in) {
    return new OwnerInfo(NodeIdentity.readFrom(in), in.readLong(), Offset.read(in), Offset.read(in), in.readInt());
  }
}
