package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

import java.util.List;

/**
 * A create (PUT) as validated by the transport layer.
 *
 * @param settings      content type and expiry
 * @param initialEvents events appended atomically with the creation (at most one from a PUT body)
 * @param closed        create the stream closed
 * @param fork          fork request, or {@code null}
 */
public record CreateSpec(StreamSettings settings, List<byte[]> initialEvents, boolean closed, ForkSpec fork) {

  public CreateSpec {
    initialEvents = initialEvents == null ? List.of() : List.copyOf(initialEvents);
  }

  public void writeTo(WireOutput out) {
    settings.writeTo(out);
    out.writeByteList(initialEvents);
    out.writeBoolean(closed);
    out.writeBoolean(fork != null);
    if (fork != null) {
      out.writeString(fork.source());
      Offset.write(out, fork.offset());
      out.writeLong(fork.subOffset());
    }
  }

  public static CreateSpec readFrom(WireInput in) {
    StreamSettings settings = StreamSettings.readFrom(in);
    List<byte[]> initial = in.readByteList();
    boolean closed = in.readBoolean();
    ForkSpec fork = in.readBoolean() ? new ForkSpec(in.readString(), Offset.read(in), in.readLong()) : null;
    return new CreateSpec(settings, initial, closed, fork);
  }
}
