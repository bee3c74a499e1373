package io.tether.cluster.owner;

import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.vertx.core.Context;
import io.vertx.core.Future;

/** What a {@link OwnerCompanion} may do with its stream; every method is called on {@link #context()}. */
public interface OwnerHandle {

  String stream();

  /** The owner verticle's context, where the companion runs. */
  Context context();

  /**
   * Appends one event through the owner's fenced path; it is fanned out to live readers once
   * replicated. Completes with the owner's reply ({@link io.tether.stream.Outcome#APPENDED} and its
   * offset, or the refusal).
   */
  Future<StreamReply> append(byte[] payload);

  /** Reads from {@code from}, at most {@code maxBytes} of payload. */
  Future<StreamReply> read(ReadStart from, long maxBytes);

  /** Gives the stream up (the companion cannot go on); another owner will take it. */
  void retire(String why);
}
