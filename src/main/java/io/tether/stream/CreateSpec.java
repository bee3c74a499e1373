package io.tether.stream;

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
}
