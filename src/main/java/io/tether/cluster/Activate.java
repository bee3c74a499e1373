package io.tether.cluster;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/**
 * Sent to the control address of the node that holds a stream's primary partition when the stream's
 * address has no handler: start its owner verticle there. {@code create} allows activating a stream
 * that does not exist yet (a PUT).
 */
public record Activate(String stream, boolean create) implements WireMessage {

  static final int WIRE_TYPE = 221;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(stream);
    out.writeBoolean(create);
  }

  static Activate readFrom(WireInput in) {
    return new Activate(in.readString(), in.readBoolean());
  }
}
