package io.tether.cluster.owner;

import io.tether.cluster.routing.StreamRequest;
import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/** The answer to a {@link StreamRequest.Command}: the companion's JSON. */
public record CommandReply(String json) implements WireMessage {

  public static final int WIRE_TYPE = 223;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(json);
  }

  public static CommandReply readFrom(WireInput in) {
    return new CommandReply(in.readString());
  }
}
