package io.tether.cluster.routing;

import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

/**
 * Sent to the control address of the node that holds a stream's primary partition when the stream's
 * address has no handler: start its owner verticle there, then hand it {@code request} and answer with
 * the owner's reply (saving the requester a second trip and an event-bus look-up). A {@code Create}
 * request may activate a stream that does not exist yet.
 *
 * <p>{@code anywhere} asks the receiving node to activate the owner even though it does not hold the
 * partition: the router's fallback when the partition's node cannot take it yet (it joined the cluster
 * but its Tether services are still starting). Fencing keeps that safe; the owner stays off-partition
 * (one more hop per append) until the stream next changes owner.
 */
public record Activate(String stream, StreamRequest request, boolean anywhere) implements WireMessage {

  public Activate(String stream, StreamRequest request) {
    this(stream, request, false);
  }

  public boolean create() {
    return request instanceof StreamRequest.Create;
  }

  public static final int WIRE_TYPE = 221;

  /**
   * The detail of the {@code MOVED} answer to an activation sent to a node that is shutting down. Its
   * partitions stay its own until Hazelcast has migrated them (a second or two), and it starts no owners
   * meanwhile; the sender starts the owner on its own node instead ({@link #anywhere()}), so that
   * writes go on through the handover.
   */
  public static final String LEAVING = "leaving";

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(stream);
    out.writeMessage(request);
    out.writeBoolean(anywhere);
  }

  public static Activate readFrom(WireInput in) {
    return new Activate(in.readString(), in.readMessage(), in.readBoolean());
  }
}
