package io.tether.cluster.live;

import io.tether.stream.Offset;
import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;

import java.util.List;

/**
 * New events (or a change of state) pushed by a stream's owner to the live address of a node that
 * holds subscriptions. One message per node carries the ids of all its subscriptions that are at the
 * same position, so a node with several devices on one stream receives each event once.
 *
 * @param stream        stream name; a subscription ignores a push for another stream
 * @param incarnation   the stream's incarnation (it changes when a stream is deleted and created again);
 *                      a subscription ignores a push for another incarnation of its stream
 * @param subscriptions subscription ids on the receiving node
 * @param ownerEpoch    the sender's fencing epoch; pushes from an older epoch are ignored
 * @param start         offset of the first event
 * @param events        consecutive payloads from {@code start}
 * @param closed        the stream is now closed (after these events)
 * @param signal        {@link #SIGNAL_NONE}, or a reason the subscription ends
 */
public record LivePush(String stream, long incarnation, long[] subscriptions, long ownerEpoch, Offset start,
                       List<byte[]> events, boolean closed, int signal) implements WireMessage {

  public static final int WIRE_TYPE = 222;

  /** Ordinary data. */
  public static final int SIGNAL_NONE = 0;
  /** The stream was deleted or expired. */
  public static final int SIGNAL_GONE = 1;
  /** The owner handed the stream over; subscribe again through the router. */
  public static final int SIGNAL_MOVED = 2;

  @Override
  public int wireType() {
    return WIRE_TYPE;
  }

  @Override
  public void writeTo(WireOutput out) {
    out.writeString(stream);
    out.writeLong(incarnation);
    out.writeInt(subscriptions.length);
    for (long id : subscriptions) {
      out.writeLong(id);
    }
    out.writeLong(ownerEpoch);
    Offset.write(out, start);
    out.writeByteList(events);
    out.writeBoolean(closed);
    out.writeInt(signal);
  }

  public static LivePush readFrom(WireInput in) {
    String stream = in.readString();
    long incarnation = in.readLong();
    long[] subs = new long[in.readInt()];
    for (int i = 0; i < subs.length; i++) {
      subs[i] = in.readLong();
    }
    return new LivePush(stream, incarnation, subs, in.readLong(), Offset.read(in), in.readByteList(), in.readBoolean(),
        in.readInt());
  }

  /** Offset after the last event. */
  public Offset end() {
    long bytes = start.bytes();
    for (byte[] event : events) {
      bytes += event.length;
    }
    return new Offset(start.index() + events.size(), bytes);
  }
}
