package io.tether.cluster;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/**
 * Sent to the control address of the node that holds a stream's primary partition when the stream's
 * address has no handler: start its owner verticle there, then hand it {@code request} and answer with
 * the owner's reply (saving the requester a second trip and an event-bus look-up). A {@code Create}
 * request may activate a stream that does not exist yet.
 */
public record Activate(String stream, StreamRequest request) implements WireMessage {

  public boolean create() {
    return request instanceof StreamRequest.Create;
  }

  static final int WIRE_TYPE = 221;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(stream);
    out.writeMessage(request);
  }

  static Activate readFrom(WireInput in) {
    return new Activate(in.readString(), in.readMessage());
  }
}
