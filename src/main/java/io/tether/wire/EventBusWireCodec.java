package io.tether.wire;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Event-bus codec for every {@link WireMessage}: the framed encoding of {@link BufferWire}, after the
 * length Vert.x needs to find the end of it. Selected through {@code EventBus#codecSelector}, so
 * message classes need no individual registration. Local delivery hands over the same instance:
 * wire messages are immutable once sent.
 */
public final class EventBusWireCodec implements MessageCodec<WireMessage, WireMessage> {

  public static final String NAME = "tether-wire";

  @Override
  public void encodeToWire(Buffer buffer, WireMessage message) {
    int lengthPos = buffer.length();
    buffer.appendInt(0);
    new BufferWire.Out(buffer).writeMessage(message);
    buffer.setInt(lengthPos, buffer.length() - lengthPos - 4);
  }

  @Override
  public WireMessage decodeFromWire(int pos, Buffer buffer) {
    int length = buffer.getInt(pos);
    return new BufferWire.In(buffer, pos + 4, pos + 4 + length).readMessage();
  }

  @Override
  public WireMessage transform(WireMessage message) {
    return message;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
