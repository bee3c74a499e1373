package io.tether.wire;

/**
 * A value that crosses a process boundary: between Hazelcast members (entry processors, their results,
 * the replicated stream state) or over the clustered event bus (requests to stream owners, live pushes).
 *
 * <p>One compact binary encoding serves both transports so that a result computed inside an entry
 * processor can be relayed to another node without conversion. Implementations are registered in
 * {@link WireTypes}; the type id is written before the fields.
 */
public interface WireMessage {

  /** Stable type id, unique among all registered wire messages. */
  int wireType();

  /** Writes the fields of this message (not its type id). */
  void writeTo(WireOutput out);
}
